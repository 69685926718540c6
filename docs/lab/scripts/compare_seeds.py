"""Seed replicates of two methods in one ``scripts/evaluate.py`` run: spread over seeds and the seed-paired lead.

Example (the Table 1 ablation, three seeds each, shared MobileFaceNet)::

    python docs/lab/scripts/compare_seeds.py results/eval_lfw_seeds/results.json \
        --a 'FH-GAN,FH-GAN seed 1,FH-GAN seed 2' \
        --b 'FH-GAN w/o identity,FH-GAN w/o identity seed 1,FH-GAN w/o identity seed 2' [--fr scratch] [--out cmp.json]

``--a`` / ``--b`` list the result labels of the replicates, comma-separated (or '|'-separated when labels contain
commas), seed-matched by position. Prints
(and with --out writes) JSON: per replicate the accuracy ± fold std, PSNR / SSIM / LPIPS and gap closed (when
the run had bicubic and HR rows); per method the mean and the sample std (ddof 1) over seeds; and the
per-seed lead A − B with its mean, sample std and the number of seeds each method wins.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
from typing import Any

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))  # the repository root

from scripts.compare_folds import comparison_main  # noqa: E402


def _spread(values: list[float]) -> dict[str, float | None]:
    """Mean and sample std (None for one value) of finite values; None where there are none."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {'mean': None, 'std': None}
    return {'mean': statistics.fmean(vals), 'std': statistics.stdev(vals) if len(vals) > 1 else None}


def _replicates(rows: dict[str, dict[str, Any]], labels: list[str], suffix: str) -> list[dict[str, Any]]:
    out = []
    for label in labels:
        if label not in rows:
            raise KeyError(f'no method {label!r} in the results; methods: {sorted(rows)}')
        row = rows[label]
        if f'acc{suffix}' not in row:
            raise KeyError(f'method {label!r} has no acc{suffix}: evaluate with that FR network')
        out.append({'method': label, 'acc': row[f'acc{suffix}'], 'acc_std': row.get(f'acc_std{suffix}'),
                    'gap': row.get(f'gap{suffix}'), 'psnr': row.get('psnr'), 'ssim': row.get('ssim'),
                    'lpips': row.get('lpips')})
    return out


def compare_seeds(results: dict[str, Any], a: list[str], b: list[str], fr: str | None = None) -> dict[str, Any]:
    """Seed statistics of replicates ``a`` and ``b`` (result labels, seed-matched by position).

    Args:
        results: A results.json dict of ``scripts/evaluate.py``.
        a, b: Labels of the replicates of methods A and B, same length (>= 2), seed i of A paired with seed i of B.
        fr: An ``--extra-fr`` label instead of the main FR network.

    Raises:
        ValueError: lists of different lengths or fewer than 2 replicates.
        KeyError: a label (or its accuracy for ``fr``) is missing.
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f'need the same number (>= 2) of replicates for A and B, got {len(a)} and {len(b)}')
    rows = {r['method']: r for r in results['rows']}
    suffix = f'@{fr}' if fr else ''
    reps = {'a': _replicates(rows, a, suffix), 'b': _replicates(rows, b, suffix)}
    out: dict[str, Any] = {'fr': fr or 'main', 'seeds': len(a)}
    metrics = ('acc', 'psnr', 'ssim', 'lpips', 'gap')
    for key, rep in reps.items():
        out[key] = {'replicates': rep, **{f'{m}_over_seeds': _spread([r[m] for r in rep]) for m in metrics},
                    'mean_fold_std': _spread([r['acc_std'] for r in rep])['mean']}
    leads = [ra['acc'] - rb['acc'] for ra, rb in zip(reps['a'], reps['b'])]
    lead = _spread(leads)
    out['lead'] = {'per_seed': leads, **lead, 'seeds_a_better': sum(d > 0 for d in leads),
                   'seeds_b_better': sum(d < 0 for d in leads)}
    out['lead_over_seed_std'] = lead['std'] is not None and lead['mean'] > lead['std']
    out['lead_over_both_mean_fold_stds'] = lead['mean'] > max(out['a']['mean_fold_std'], out['b']['mean_fold_std'])
    return out


def split_labels(text: str) -> list[str]:
    """Labels separated by '|' when the text has one (labels may contain commas), else by ','."""
    sep = '|' if '|' in text else ','
    return [x.strip() for x in text.split(sep) if x.strip()]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return comparison_main(__doc__, compare_seeds, argv,
                           "labels of method A replicates, separated by ',' or by '|' (for labels with commas)",
                           'labels of method B replicates, same seeds in the same order',
                           parse=split_labels)


if __name__ == '__main__':
    main()
