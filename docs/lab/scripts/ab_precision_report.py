"""The float32 / bfloat16 A/B of docs/lab/scripts/ab_precision.sh (JSON + markdown).

For each stage, the final generators of both runs judged alike on the validation identities by
``scripts/evaluate.py`` (PSNR / SSIM on the 712 validation-pair faces, verification of the 1,200 pairs with the
shared MobileFaceNet: ``--eval-summary``), plus the last in-training validation from each run's log; their
difference and whether it is within the issue-29 tolerances (PSNR 0.05 dB, verification 0.2 points). The runs' wall
times are listed, but both chains shared the 2 cores, so speed ratios come from
``scripts/benchmark.py --sections training``.

    python scripts/evaluate.py --root datasets/faces112 --pairs-file datasets/meta/val_pairs.txt --pairs-kind list \
        --name val_pairs --out results/ab_precision_val --method "DSNet-PSNR float32=DSNet(config=cpu)@..." ...
    python docs/lab/scripts/ab_precision_report.py --eval-summary results/ab_precision_val/summary.json \
        --out docs/results/precision_ab.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)

from fhgan_plugin.utils.report import emit_json  # noqa: E402
from scripts.collect_validation import collect  # noqa: E402

#: (stage, float32 run, bfloat16 run, evaluation labels of the two generators)
STAGES = [('DSNet-PSNR (cpu width)', 'experiments/DSNet_PSNR_x4_cpu_float32', 'experiments/DSNet_PSNR_x4_cpu',
           ('DSNet-PSNR float32', 'DSNet-PSNR bfloat16')),
          ('FH-GAN (cpu width)', 'experiments/FHGAN_x4_cpu_float32', 'experiments/FHGAN_x4_cpu',
           ('FH-GAN float32', 'FH-GAN bfloat16'))]
TOLERANCE = {'psnr': 0.05, 'verification': 0.2}


def final(folder: str) -> dict[str, Any]:
    res = collect(folder)
    vals = res['validations']
    if not vals:
        raise SystemExit(f'{folder}: no validation in its logs')
    last = vals[-1]
    return {'experiment': res['experiment'], 'iter': last['iter'],
            **{k: v for k, v in last.items() if k not in ('iter', 'dataset', 'time')},
            'wall_seconds': sum(r['wall_seconds'] or 0 for r in res['runs']),
            'resumed': any(r['resumed'] for r in res['runs'])}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--eval-summary', required=True, help="scripts/evaluate.py's summary.json of the four generators")
    p.add_argument('--out', default=None)
    args = p.parse_args(argv)
    with open(args.eval_summary) as f:
        summary = json.load(f)
    evals = {r['method']: r for r in summary['rows']}
    rows = []
    for label, a, b, (la, lb) in STAGES:
        fa, fb = {'log': final(a)}, {'log': final(b)}
        for f, lab in ((fa, la), (fb, lb)):
            if lab not in evals:
                raise SystemExit(f'{args.eval_summary}: no method {lab!r} (has {sorted(evals)})')
            e = evals[lab]
            f.update(psnr=e['psnr'], ssim=e['ssim'], verification=e['acc'], verification_std=e['acc_std'],
                     verification_folds=e['acc_folds'])
        diff = {k: fb[k] - fa[k] for k in ('psnr', 'ssim', 'verification')}
        folds = [y - x for x, y in zip(fa['verification_folds'], fb['verification_folds'])]
        within = {k: abs(diff[k]) <= tol for k, tol in TOLERANCE.items()}
        rows.append({'stage': label, 'float32': fa, 'bfloat16': fb, 'bfloat16_minus_float32': diff,
                     'paired_fold_difference': {'mean': sum(folds) / len(folds),
                                                'std': statistics.pstdev(folds), 'folds': folds},
                     'within_tolerance': within})
    lines = ['| stage | float32: PSNR / SSIM / verif. | bfloat16: PSNR / SSIM / verif. | difference | within '
             '0.05 dB / 0.2 pt |', '|---|---|---|---|---|']
    for r in rows:
        def cell(f: dict[str, Any]) -> str:
            return ' / '.join(f'{f[k]:.4f}' if k != 'verification' else f'{f[k]:.2f} %'
                              for k in ('psnr', 'ssim', 'verification') if k in f)
        d = r['bfloat16_minus_float32']
        lines.append(f"| {r['stage']} | {cell(r['float32'])} | {cell(r['bfloat16'])} | "
                     + ', '.join(f'{k} {v:+.4f}' for k, v in d.items()) + ' | '
                     + ', '.join(f"{k} {'yes' if v else 'no'}" for k, v in r['within_tolerance'].items()) + ' |')
    out = {'tolerance': TOLERANCE, 'rows': rows, 'markdown': '\n'.join(lines)}
    print('\n'.join(lines))
    emit_json(out, args.out)
    return out


if __name__ == '__main__':
    main()
