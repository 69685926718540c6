"""Evaluate face SR methods like the paper's Tables 1-3: PSNR / SSIM / LPIPS and face verification.

Example (LFW, all 6,000 pairs / 7,701 images prepared by scripts/prepare_data.py)::

    python scripts/evaluate.py --method bilinear --method bicubic --method hr \\
        --method 'DSNet-cpu=DSNet(config=cpu)@experiments/DSNet_PSNR_x4_cpu/models/net_g_latest.pth' \\
        --out results/eval_lfw

writes results.md / .csv / .json, roc.png and figure.png under --out; per-method results are cached
there (cache/), so adding a method later only computes the new one. Methods: see
``fhgan_plugin.evaluation.methods``. Without --pairs-file the test set is a plain folder of aligned HR
faces (PSNR / SSIM / LPIPS only).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import torch
import yaml

from fhgan_plugin.archs.face_recognizer import FaceEmbedder
from fhgan_plugin.data.pairs import PAIRS_KINDS
from fhgan_plugin.evaluation.methods import Method, MethodError, parse_method
from fhgan_plugin.evaluation.report import add_gap_closed, figure_grid, markdown_table, plot_roc, write_tables
from fhgan_plugin.evaluation.runner import Evaluator, load_test_set
from fhgan_plugin.utils.cli import add_debug_flag, run_cli
from fhgan_plugin.utils.io import file_digest
from fhgan_plugin.utils.paths import shared_root
from fhgan_plugin.utils.report import emit_json

logger = logging.getLogger('fhgan_plugin')
FR_PRESETS = {'mobilefacenet': {'backbone': {'type': 'FHMobileFaceNet'},
                                'pretrain_path': 'models/mobilefacenet_casia_068.pth', 'flip_concat': True}}


def build_fr(spec: str, weights: str | None = None) -> tuple[FaceEmbedder | None, str, dict[str, Any]]:
    """FR network from a preset name (``mobilefacenet``: the shared one, flip-concatenated embeddings), a
    YAML file of FaceEmbedder options, or ``none``. ``weights`` overrides ``pretrain_path``."""
    if spec == 'none':
        return None, '', {}
    if spec in FR_PRESETS:
        opt = dict(FR_PRESETS[spec])
        if weights is None:
            root = shared_root()
            weights = os.path.join(root, opt['pretrain_path']) if root else None
            if weights is None or not os.path.isfile(weights):
                raise FileNotFoundError(f'FR preset {spec!r} needs ../shared/{opt["pretrain_path"]} (set FHGAN_SHARED) '
                                        'or --fr-weights PATH')
    elif spec.endswith(('.yml', '.yaml')) and os.path.isfile(spec):
        with open(spec) as f:
            opt = dict(yaml.safe_load(f))
        opt = dict(opt.get('network_fr', opt))  # a stage-1/3 options file or bare FaceEmbedder options
        opt.pop('type', None)
    else:
        raise ValueError(f'unknown FR network {spec!r}; choose one of {sorted(FR_PRESETS) + ["none"]} or a YAML '
                         'file of FaceEmbedder options (backbone, pretrain_path, flip_concat)')
    if weights is not None:
        opt['pretrain_path'] = weights
    fr = FaceEmbedder(**opt).eval()
    key = yaml.safe_dump(opt, sort_keys=True)
    if opt.get('pretrain_path'):
        key += file_digest(opt['pretrain_path'])
    return fr, key, opt


def parse_extra_fr(spec: str) -> tuple[str, tuple[FaceEmbedder, str, dict[str, Any]]]:
    """``LABEL=SPEC[@WEIGHTS]`` of ``--extra-fr`` -> (label, build_fr(SPEC, WEIGHTS))."""
    label, sep, rest = spec.partition('=')
    if not sep or not label or not rest:
        raise SystemExit(f'evaluate: --extra-fr wants LABEL=SPEC[@WEIGHTS], got {spec!r}')
    fr_spec, _, weights = rest.partition('@')
    fr, key, opt = build_fr(fr_spec, weights or None)
    if fr is None:
        raise SystemExit(f'evaluate: --extra-fr {spec!r} names no FR network')
    return label, (fr, key, opt)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--benchmark', default=None, choices=['face-sr-x8'],
                   help="the field's x8 face-SR benchmark (CelebA-1000 + Helen-50, 16x16 -> 128x128, PSNR/SSIM on Y "
                        "with crop 8, LPIPS, CelebA-1000 verification; prepared by scripts/prepare_data.py --sets "
                        "x8_benchmark): one table for all --method; --root/--pairs-file/--y-channel do not apply")
    p.add_argument('--protocol', default=None, choices=['lr-lr', 'gallery-probe'],
                   help="verification under probe conditions (fhgan_plugin/evaluation/conditions.py): 'gallery-probe' "
                        "(one face of each pair stays HR, the other is degraded and super-resolved) or 'lr-lr' (both); "
                        "one accuracy per --conditions and method, in conditions.md / summary.json")
    p.add_argument('--conditions', default='all',
                   help="with --protocol: 'all' or a comma-separated list of clean, size14, size20, blur1, blur2, "
                        "noise10, jpeg30, realistic")
    p.add_argument('--protocol-seed', type=int, default=0, help='with --protocol: the seed that fixes every LR probe')
    p.add_argument('--root', default='datasets/faces112/lfw_pairs', help='aligned HR faces (112x112)')
    p.add_argument('--pairs-file', default='datasets/meta/lfw_pairs.txt',
                   help="LFW pairs.txt or CFP Protocol folder; 'none': a plain folder, no verification")
    p.add_argument('--pairs-kind', default='lfw', choices=list(PAIRS_KINDS))
    p.add_argument('--cfp-setting', default='FP', choices=['FF', 'FP'])
    p.add_argument('--name', default=None, help='test set name in the tables (default: the folder name)')
    p.add_argument('--method', action='append', default=None,
                   help="repeatable; default: bilinear, bicubic, hr. See fhgan_plugin.evaluation.methods")
    p.add_argument('--fr', default='mobilefacenet', help="FR network: 'mobilefacenet', a YAML file, or 'none'")
    p.add_argument('--fr-weights', default=None)
    p.add_argument('--extra-fr', action='append', default=[], metavar='LABEL=SPEC[@WEIGHTS]',
                   help="repeatable: also report verification accuracy with this FR network (SPEC as for --fr), "
                        "as column 'acc@LABEL' - e.g. an FR not used in training")
    p.add_argument('--lpips-vgg', default='auto',
                   help="VGG16 features for LPIPS ('auto': ../shared/models/vgg16_imagenet_features_fp16.pth; "
                        "'none': skip LPIPS)")
    p.add_argument('--lpips-images', type=lpips_images_arg, default=1000,
                   help="LPIPS on this many (>= 1) evenly spaced images ('all': every image; ~0.2 s per face on 2 "
                        "CPU cores; --lpips-vgg none skips LPIPS)")
    p.add_argument('--y-channel', action='store_true', help='PSNR/SSIM on Y instead of RGB')
    p.add_argument('--far', type=float, default=1e-3, help='FAR of the TAR@FAR column')
    p.add_argument('--batch-size', type=positive_int, default=64,
                   help='faces per forward pass (64: with freed memory kept for reuse, a whole evaluation ran 8 %% '
                        'faster than with 16 on an Intel Xeon, 2 cores; docs/benchmarks.md)')
    p.add_argument('--limit', type=positive_int, default=None, help='first N (>= 1) pairs (or images): a quick subset')
    p.add_argument('--figure-pairs', default='0,1,300,301',
                   help="comma-separated pair indices shown (both faces) in figure.png; '' for none")
    p.add_argument('--out', default=None, help='output folder (default results/eval_<name>)')
    p.add_argument('--no-cache', action='store_true')
    p.add_argument('--device', default='auto', help="'auto' (CUDA if available), 'cpu' or 'cuda'")
    add_debug_flag(p)
    return p.parse_args(argv)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def lpips_images_arg(text: str) -> int | None:
    """argparse type of --lpips-images: an integer >= 1, or 'all' (None)."""
    return None if text == 'all' else positive_int(text)


def resolve_lpips(arg: str) -> torch.nn.Module | None:
    if arg == 'none':
        return None
    path = arg
    if arg == 'auto':
        root = shared_root()
        path = os.path.join(root, 'models', 'vgg16_imagenet_features_fp16.pth') if root else ''
        if not os.path.isfile(path):
            raise FileNotFoundError('LPIPS needs ImageNet VGG16 features: pass --lpips-vgg PATH (torchvision key '
                                    "names) or --lpips-vgg none; ../shared/models/vgg16_imagenet_features_fp16.pth "
                                    'was not found')
    from fhgan_plugin.evaluation.lpips_metric import build_lpips
    return build_lpips(path)


@torch.no_grad()
def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s: %(message)s')
    specs = args.method or ['bilinear', 'bicubic', 'hr']
    try:
        methods: list[Method] = [parse_method(s) for s in specs]
    except MethodError as err:
        raise SystemExit(f'evaluate: {err}') from None
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        raise SystemExit(f'evaluate: method labels must be unique, got {labels}')
    device = torch.device('cuda' if args.device == 'auto' and torch.cuda.is_available() else
                          ('cpu' if args.device == 'auto' else args.device))
    if args.benchmark == 'face-sr-x8':
        return run_x8(args, methods, device)
    if args.protocol:
        return run_protocol(args, methods, device)
    t0 = time.perf_counter()
    pairs_file, out, cache_dir, testset = open_test_set(args, '')
    load_s = time.perf_counter() - t0
    fr, fr_key, fr_opt = build_fr(args.fr, args.fr_weights) if pairs_file else (None, '', {})
    ev = Evaluator(fr, fr_key, resolve_lpips(args.lpips_vgg), cache_dir,
                   args.batch_size, args.y_channel, device, args.lpips_images)
    extra_frs = [parse_extra_fr(spec) for spec in args.extra_fr] if pairs_file else []
    for m in methods:
        m.load(device)  # fail early on a wrong checkpoint, before any long computation
    rows = []
    for m in methods:
        res = ev.run_method(m, testset)
        rows.append(ev.summarize(res, testset, args.far))
        for label, (net, key, _) in extra_frs:
            rows[-1].update(ev.verification_columns(ev.extra_embeddings(m, testset, net, key), testset, label))
        logger.info('%s: %s', m.label, {k: v for k, v in rows[-1].items() if not k.startswith('_')})
    if testset.pairs:
        why = add_gap_closed(rows, methods)
        if why:
            logger.info('no "gap closed" column: %s', why)
    title = f'{testset.name}: {len(testset.images)} images' + (f', {len(testset.pairs)} pairs' if testset.pairs else '')
    meta = {'title': title, 'test_set': testset.name, 'root': args.root, 'pairs_file': pairs_file,
            'images': len(testset.images), 'pairs': len(testset.pairs or []), 'fr': fr_opt,
            'extra_fr': {label: opt for label, (_, _, opt) in extra_frs},
'lpips': args.lpips_vgg != 'none', 'lpips_images': args.lpips_images or 'all',
            'y_channel': args.y_channel, 'device': str(device),
            'threads': torch.get_num_threads(), 'read_seconds': round(load_s, 1),
            'methods': {m.label: {'kind': m.kind, 'network': m.network_opt or None, 'checkpoint': m.checkpoint}
                        for m in methods}}
    paths = write_tables(rows, out, meta)
    paths['roc'] = plot_roc(rows, os.path.join(out, 'roc.png'), title)
    picks = [int(i) for i in args.figure_pairs.split(',') if i.strip()] if testset.pairs else []
    if picks or not testset.pairs:
        index = {r: i for i, r in enumerate(testset.images)}
        rels = figure_images(testset.pairs, picks) if testset.pairs else testset.images[:6]
        idx = [index[r] for r in rels]
        if idx:
            paths['figure'] = figure_grid(methods, testset.hr[idx], testset.lq[idx], os.path.join(out, 'figure.png'),
                                          [os.path.splitext(os.path.basename(r))[0] for r in rels])
    print(markdown_table(rows, title))
    summary = {**meta, 'rows': [{k: v for k, v in r.items() if not k.startswith('_')} for r in rows],
               'outputs': paths}
    emit_json(summary, os.path.join(out, 'summary.json'))
    return summary


def ensure_x8_prepared(x8_shared: str, x8_prepared: str, detector_root: str) -> None:
    """Prepare the ×8 benchmark's landmarks and pairs file from ``../shared`` if they are missing (what
    ``scripts/prepare_data.py --sets x8_benchmark`` does, ~40 s on 2 cores; byte-identical files, the pairs file
    checked against its sha256), so that the table is one command from a clean checkout."""
    from fhgan_plugin.data.face_sr_x8 import X8_SETS, prepare_benchmark
    needed = [f'{name}_landmarks.csv' for name in X8_SETS] + ['celeba1000_pairs.txt']
    missing = [f for f in needed if not os.path.isfile(os.path.join(x8_prepared, f))]
    if missing:
        logger.info('evaluate: %s lacks %s: preparing the x8 benchmark there once (scripts/prepare_data.py --sets '
                    'x8_benchmark; RetinaFace from %s)', x8_prepared, ', '.join(missing), detector_root)
        prepare_benchmark(x8_shared, x8_prepared, detector_root)


def run_x8(args: argparse.Namespace, methods: list[Method], device: torch.device) -> dict[str, Any]:
    """``--benchmark face-sr-x8``: :func:`fhgan_plugin.evaluation.x8.run_x8_benchmark` and its table."""
    from fhgan_plugin.evaluation.x8 import CROP_BORDER, PUBLISHED_X8, run_x8_benchmark, x8_markdown
    from fhgan_plugin.utils.paths import data_root
    for flag, default in (('root', 'datasets/faces112/lfw_pairs'), ('pairs_file', 'datasets/meta/lfw_pairs.txt')):
        if getattr(args, flag) != default:
            raise SystemExit(f'evaluate: --{flag.replace("_", "-")} does not apply to --benchmark face-sr-x8')
    root = shared_root(required=True)
    out = args.out or os.path.join('results', 'eval_x8')
    t0 = time.perf_counter()
    fr, fr_key, fr_opt = build_fr(args.fr, args.fr_weights)
    ev_kwargs = dict(fr=fr, fr_key=fr_key, lpips=resolve_lpips(args.lpips_vgg),
                     cache_dir=None if args.no_cache else os.path.join(out, 'cache'), batch_size=args.batch_size,
                     device=device, lpips_images=args.lpips_images)
    for m in methods:
        m.load(device)
    x8_shared, x8_prepared = os.path.join(root, 'data', 'face_sr_x8'), os.path.join(data_root(), 'face_sr_x8')
    ensure_x8_prepared(x8_shared, x8_prepared, os.path.join(root, 'models', 'facexlib'))
    rows = run_x8_benchmark(methods, ev_kwargs, x8_shared, x8_prepared, fr is not None)
    table = x8_markdown(rows)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'results.md'), 'w') as f:
        f.write(table)
    print(table)
    summary = {'benchmark': 'face-sr-x8', 'crop_border': CROP_BORDER, 'y_channel': True,
               'lr': 'MATLAB-style bicubic x1/8 (basicsr.utils.matlab_functions.imresize), uint8', 'fr': fr_opt,
               'lpips_images': args.lpips_images or 'all', 'seconds': round(time.perf_counter() - t0, 1),
               'published': PUBLISHED_X8, 'rows': [{k: v for k, v in r.items() if not k.startswith('_')} for r in rows]}
    emit_json(summary, os.path.join(out, 'summary.json'))
    return summary


def open_test_set(args: argparse.Namespace, out_suffix: str) -> tuple[str | None, str, str | None, Any]:
    """(pairs file or None, output folder, cache folder or None, test set) of the --root / --pairs-file arguments;
    the default output folder is ``results/eval_<name><out_suffix>``."""
    pairs_file = None if args.pairs_file in (None, '', 'none') else args.pairs_file
    name = args.name or os.path.basename(os.path.normpath(args.root))
    out = args.out or os.path.join('results', f'eval_{name}{out_suffix}')
    cache_dir = None if args.no_cache else os.path.join(out, 'cache')
    testset = load_test_set(args.root, pairs_file, args.pairs_kind, args.cfp_setting, name, limit=args.limit,
                            digest_cache=os.path.join(cache_dir, 'file_digests.json') if cache_dir else None)
    return pairs_file, out, cache_dir, testset


def run_protocol(args: argparse.Namespace, methods: list[Method], device: torch.device) -> dict[str, Any]:
    """``--protocol``: :func:`fhgan_plugin.evaluation.conditions.run_conditions` and its table."""
    from fhgan_plugin.evaluation.conditions import ConditionRun, conditions_markdown, parse_conditions, run_conditions
    conditions = parse_conditions(args.conditions)
    if args.pairs_file in (None, '', 'none') or args.fr == 'none':
        raise SystemExit('evaluate: --protocol needs a pairs protocol (--pairs-file) and an FR network (--fr)')
    t0 = time.perf_counter()
    pairs_file, out, cache_dir, testset = open_test_set(args, f'_{args.protocol}')
    fr, fr_key, fr_opt = build_fr(args.fr, args.fr_weights)
    ev = Evaluator(fr, fr_key, None, cache_dir, args.batch_size, args.y_channel, device)
    for m in methods:
        m.load(device)
    result = run_conditions(methods, ConditionRun(ev, testset, args.protocol, args.protocol_seed), conditions)
    title = f'{testset.name}, {args.protocol}: verification accuracy (%) per probe condition'
    table = conditions_markdown(result, title)
    os.makedirs(out, exist_ok=True)
    picks = [int(i) for i in args.figure_pairs.split(',') if i.strip()][:2]
    outputs = {'table': os.path.join(out, 'conditions.md'), 'summary': os.path.join(out, 'summary.json')}
    if picks:
        outputs['figure'] = conditions_figure(methods, testset, conditions, picks, args.protocol_seed,
                                              os.path.join(out, 'figure_conditions.png'))
    with open(os.path.join(out, 'conditions.md'), 'w') as f:
        f.write(table)
    print(table)
    summary = {**result, 'test_set': testset.name, 'root': args.root, 'pairs_file': pairs_file, 'fr': fr_opt,
               'device': str(device), 'threads': torch.get_num_threads(), 'outputs': outputs,
               'seconds': round(time.perf_counter() - t0, 1),
               'methods': {m.label: {'kind': m.kind, 'network': m.network_opt or None, 'checkpoint': m.checkpoint}
                           for m in methods}}
    emit_json(summary, os.path.join(out, 'summary.json'))
    return summary


def conditions_figure(methods: list[Method], testset: Any, conditions: list[str], picks: list[int], seed: int,
                      path: str) -> str:
    """One row per (probe of a picked pair, condition): the probe, bicubic, each network method, the HR face; the
    probes are the evaluation's own (same seeds)."""
    from fhgan_plugin.evaluation.conditions import make_probes
    from fhgan_plugin.metrics.verification import probe_sides
    index = {r: i for i, r in enumerate(testset.images)}
    sides = probe_sides(len(testset.pairs))
    rels = list(dict.fromkeys(testset.pairs[k].path1 if sides[k] == 0 else testset.pairs[k].path2
                              for k in picks if 0 <= k < len(testset.pairs)))
    hr, lq, captions = [], [], []
    size = testset.hr.shape[-1] // 4
    for rel in rels:
        face = testset.hr[[index[rel]]]
        for cond in conditions:
            hr.append(face)
            lq.append(make_probes(face, [rel], cond, size, seed)[0])
            captions.append(f'{cond}: {os.path.splitext(os.path.basename(rel))[0]}')
    return figure_grid(methods, torch.cat(hr), torch.cat(lq), path, captions)


def figure_images(pairs: list, picks: list[int]) -> list[str]:
    """Images of the picked pairs for figure.png, in order, each once (pairs share images; out-of-range picks dropped).

    Args:
        pairs: Verification pairs with ``path1`` / ``path2`` (relative image paths).
        picks: Pair indices.

    Returns:
        Relative image paths, without repeats.
    """
    rels = [r for i in picks if 0 <= i < len(pairs) for r in (pairs[i].path1, pairs[i].path2)]
    return list(dict.fromkeys(rels))


def console() -> None:
    """Console-script entry point: exit 0, or 2 with one line on a user error (:mod:`fhgan_plugin.utils.cli`)."""
    sys.exit(run_cli(main, 'evaluate'))


if __name__ == '__main__':
    console()
