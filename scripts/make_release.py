"""Turn a trained generator checkpoint into a shipped model: float16 weights + model card (JSON on stdout).

The weights are stored as float16 only if that moves the mean PSNR on the validation faces (the held-out
identities, never the test set) by less than ``--max-psnr-change`` dB; otherwise float32 is kept. The options
file and the checkpoint default to the model's entry in ``fhgan_plugin/model_zoo.py``: its options file and that
run's ``experiments/<name>/models/net_g_latest.pth``.

Usage (as ``scripts/train_release_models.sh`` runs it; an evaluation summary adds the card's metrics table)::

    python scripts/make_release.py --name fhgan-x4-cpu [--eval-summary results/eval_lfw_release/summary.json]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

import fhgan_plugin  # noqa: E402,F401
from fhgan_plugin.data.pairs import PAIRS_KINDS  # noqa: E402
from fhgan_plugin.errors import InputError  # noqa: E402
from fhgan_plugin.evaluation.runner import load_test_set  # noqa: E402
from fhgan_plugin.inference import load_generator  # noqa: E402
from fhgan_plugin.model_zoo import SHIPPED_MODELS  # noqa: E402
from fhgan_plugin.utils.checkpoint import read_state_dict  # noqa: E402
from fhgan_plugin.utils.cli import run_cli  # noqa: E402
from fhgan_plugin.utils.metrics import psnr_ssim_batch  # noqa: E402
from fhgan_plugin.utils.report import emit_json  # noqa: E402


@torch.no_grad()
def mean_psnr(net: torch.nn.Module, lq: torch.Tensor, hr: torch.Tensor, batch: int = 128) -> float:
    vals: list[float] = []
    for s in tqdm(range(0, len(lq), batch), desc='PSNR', unit='batch', leave=False):
        sr = net(lq[s:s + batch].float() / 255).clamp(0, 1)
        vals += psnr_ssim_batch(sr, hr[s:s + batch].float() / 255)[0]
    return float(sum(vals) / len(vals))


def git_commit() -> str:
    try:
        return subprocess.check_output(['git', 'rev-parse', 'HEAD'], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def training_set_size(options: str) -> tuple[int, int]:
    """(images, identities) of an options file's training list; without labels, a person is an image folder."""
    import yaml
    with open(options) as f:
        train = yaml.safe_load(f)['datasets']['train']
    path = train.get('label_file') or train.get('meta_info_file')
    if not path or not os.path.isfile(path):
        raise InputError(f'{options}: training list {path} not found (run scripts/prepare_data.py)')
    with open(path) as f:
        rows = [ln.split() for ln in f if ln.strip()]
    if train.get('label_file'):
        return len(rows), len({r[1] for r in rows})
    from fhgan_plugin.data.face_sr_x8 import HELEN_FRAMING_DIR
    framed = HELEN_FRAMING_DIR + '/'  # the same photo in the second x8 framing is the same person
    people = {os.path.dirname(r[0][len(framed):] if r[0].startswith(framed) else r[0]) for r in rows}
    return len(rows), len(people)


def card_text(name: str, info: dict[str, Any], eval_rows: list[dict[str, Any]] | None,
              eval_summary: dict[str, Any] | None = None) -> str:
    model = SHIPPED_MODELS[name]
    lines = [f'# Model card: `{name}`', '', SHIPPED_MODELS[name].summary + '.', '',
             *(['**A comparison baseline** of a results table, shipped so that the table is re-made by one command; '
                'not tuned for restoring faces.', ''] if model.role == 'baseline' else []),
             f"- File: `{info['file']}` ({info['dtype']}, {info['bytes']:,} bytes, sha256 `{info['sha256']}`)",
             f"- Architecture: `{json.dumps(info['arch'])}` ({info['params']:,} parameters)",
             f"- Made from: `{info['checkpoint']}` (sha256 `{info['checkpoint_sha256']}`)",
             f"- Training options: `{info['options']}`; project commit `{info['commit']}`; made {info['date']}",
             *([f"- Checkpoint: iteration {info['selection']['iter']}, the highest validation "
                f"{info['selection']['metric']} on {info['selection'].get('dataset')} "
                f"({info['selection']['value']:.4f}) "
                f"among iterations "
                f"{', '.join(str(c['iter']) for c in info['selection']['candidates'])}"]
               if info.get('selection') else []),
             f"- Precision check on {info['test_images']:,} validation faces (x{model.scale}, RGB): mean PSNR float32 "
             f"{info['psnr_fp32']:.4f} dB, float16 weights {info['psnr_fp16']:.4f} dB "
             f"(change {info['psnr_fp16'] - info['psnr_fp32']:+.4f} dB)",
             '- Data: ' + model.data.format(**info) + '.',
             f'- Input: {model.input}.',
             f'- Limits: {SHIPPED_MODELS[name].limits}.',
             '- Licence: the weights derive from research-only data (LFW, CelebA): research use only.']
    if eval_summary and eval_summary.get('benchmark') == 'face-sr-x8':
        from fhgan_plugin.evaluation.x8 import x8_markdown
        lines += ['', 'Evaluation (`scripts/evaluate.py --benchmark face-sr-x8`: PSNR / SSIM on Y, crop 8):', '',
                  x8_markdown(eval_summary['rows']).rstrip()]
    elif eval_rows:
        extra = sorted({k for r in eval_rows for k in r if k.startswith('acc@')})
        head = '| method | PSNR | SSIM | LPIPS | verif. acc. (%) |' + ''.join(f' acc, FR {k[4:]} |' for k in extra)
        lines += ['', 'Evaluation (`scripts/evaluate.py`, LFW 6,000 pairs, 10 folds):', '', head,
                  '|' + '---|' * (5 + len(extra))]
        for r in eval_rows:
            def f(v: Any, fmt: str) -> str:
                return '—' if v is None else format(v, fmt)
            cells = [r['method'], f(r.get('psnr'), '.2f'), f(r.get('ssim'), '.4f'), f(r.get('lpips'), '.4f'),
                     f"{r['acc']:.2f} ± {r['acc_std']:.2f}" if r.get('acc') is not None else '—']
            cells += [f"{r[k]:.2f} ± {r[k.replace('acc', 'acc_std', 1)]:.2f}" if k in r else '—' for k in extra]
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--name', required=True, choices=sorted(SHIPPED_MODELS))
    p.add_argument('--ckpt', default=None,
                   help="BasicSR net_g_*.pth of the trained generator (default: the options' run, net_g_latest.pth)")
    p.add_argument('--options', default=None, help="the training options file (default: the model zoo's)")
    p.add_argument('--root', default=None, help="faces of the precision check (default: the model zoo's val_root)")
    p.add_argument('--pairs-file', default=None,
                   help="pairs file naming them ('none': every image under --root; default: the model zoo's)")
    p.add_argument('--pairs-kind', default='list', choices=list(PAIRS_KINDS))
    p.add_argument('--select', default=None, metavar='METRIC[@DATASET]',
                   help="take the run's checkpoint with the highest validation METRIC (e.g. psnr, acc; @DATASET names "
                        "the validation set when there are several), from its training log "
                        "(scripts/collect_validation.py), instead of net_g_latest.pth")
    p.add_argument('--eval-summary', default=None, help="scripts/evaluate.py's summary.json for the card")
    p.add_argument('--max-psnr-change', type=float, default=0.05)
    p.add_argument('--out-dir', default=None, help='default: fhgan_plugin/weights')
    args = p.parse_args(argv)
    model = SHIPPED_MODELS[args.name]
    options = args.options or model.options
    if args.ckpt and args.select:
        raise InputError('--ckpt and --select exclude each other')
    from scripts.collect_validation import select_checkpoint
    selection = select_checkpoint(os.path.join('experiments', model.run_name), args.select) if args.select else None
    ckpt = args.ckpt or (selection['checkpoint'] if selection else
                         os.path.join('experiments', model.run_name, 'models', 'net_g_latest.pth'))
    for what, path in (('--options', options), ('--ckpt', ckpt)):
        if not os.path.isfile(path):
            raise InputError(f'{what} {path} does not exist (train it first: python fhgan_plugin/train.py -opt '
                             f'{options})')
    train_images, train_ids = training_set_size(options)
    out_dir = args.out_dir or os.path.dirname(model.path)
    os.makedirs(out_dir, exist_ok=True)
    net32 = load_generator(ckpt, dict(model.arch))
    state16 = {k: v.half() for k, v in read_state_dict(ckpt, None).items()}
    net16 = load_generator(ckpt, dict(model.arch))
    net16.load_state_dict({k: v.float() for k, v in state16.items()})
    pairs = args.pairs_file or model.val_pairs
    pairs = None if pairs in ('', 'none') else pairs
    test = load_test_set(args.root or model.val_root, pairs, pairs_kind=args.pairs_kind, scale=model.scale,
                         degradation=model.degradation)
    psnr32, psnr16 = mean_psnr(net32, test.lq, test.hr), mean_psnr(net16, test.lq, test.hr)
    use16 = abs(psnr16 - psnr32) < args.max_psnr_change
    path = os.path.join(out_dir, model.file)
    torch.save({'params': state16 if use16 else read_state_dict(ckpt, None)}, path)
    with open(path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(ckpt, 'rb') as f:
        ckpt_sha = hashlib.sha256(f.read()).hexdigest()
    info = {'name': args.name, 'file': os.path.relpath(path), 'dtype': 'float16' if use16 else 'float32',
            'bytes': os.path.getsize(path), 'sha256': sha, 'arch': model.arch,
            'params': sum(v.numel() for v in state16.values()), 'checkpoint': ckpt,
            'checkpoint_sha256': ckpt_sha, 'options': options, 'commit': git_commit(),
            'date': datetime.date.today().isoformat(), 'test_images': len(test.images),
            'psnr_fp32': psnr32, 'psnr_fp16': psnr16, 'train_images': train_images, 'train_identities': train_ids,
            'selection': selection}
    rows, summary = None, None
    if args.eval_summary:
        with open(args.eval_summary) as f:
            summary = json.load(f)
        rows = summary['rows']
    card = os.path.join(out_dir, os.path.splitext(model.file)[0] + '.md')
    with open(card, 'w') as f:
        f.write(card_text(args.name, info, rows, summary))
    with open(os.path.join(out_dir, os.path.splitext(model.file)[0] + '.json'), 'w') as f:
        json.dump(info, f, indent=2)
    emit_json(info)
    return info


if __name__ == '__main__':
    sys.exit(run_cli(main, 'make_release'))
