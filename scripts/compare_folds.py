"""Paired, fold-by-fold comparison of two methods of one ``scripts/evaluate.py`` run.

Example (the Table 1 ablation: FH-GAN with vs without identity loss, shared MobileFaceNet)::

    python scripts/compare_folds.py results/eval_lfw_all/results.json \
        --a 'FH-GAN' --b 'FH-GAN w/o identity' [--fr joint] [--out cmp.json]

Prints (and with --out writes) JSON: each method's accuracy ± fold std and the per-fold differences A − B
with their mean ± std and how many folds each method wins. Needs results written since per-fold
accuracies are recorded (``acc_folds`` in results.json).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fhgan_plugin.metrics.verification import paired_fold_difference  # noqa: E402
from fhgan_plugin.utils.report import emit_json  # noqa: E402


def compare(results: dict[str, Any], a: str, b: str, fr: str | None = None) -> dict[str, Any]:
    """The paired comparison of rows ``a`` and ``b`` of a results.json dict (``fr``: an extra-FR label)."""
    rows = {r['method']: r for r in results['rows']}
    suffix = f'@{fr}' if fr else ''
    out: dict[str, Any] = {'fr': fr or 'main', 'a': a, 'b': b}
    folds = []
    for name, label in ((a, 'a'), (b, 'b')):
        if name not in rows:
            raise KeyError(f'no method {name!r} in the results; methods: {sorted(rows)}')
        row = rows[name]
        if f'acc_folds{suffix}' not in row:
            raise KeyError(f'method {name!r} has no acc_folds{suffix}: evaluate again with this version '
                           f'(per-fold accuracies are recorded since 2026-11-29)'
                           + (f' and --extra-fr {fr}=...' if fr else ''))
        folds.append(row[f'acc_folds{suffix}'])
        out[f'acc_{label}'], out[f'acc_std_{label}'] = row[f'acc{suffix}'], row[f'acc_std{suffix}']
    out.update(asdict(paired_fold_difference(*folds)))
    out['lead_over_both_fold_stds'] = out['mean'] > max(out['acc_std_a'], out['acc_std_b'])
    out['lead_over_paired_std'] = out['mean'] > out['std']
    return out


def comparison_main(description: str, compare_fn: Callable[..., dict[str, Any]], argv: list[str] | None,
                    a_help: str, b_help: str, parse: Callable[[str], Any] = str) -> dict[str, Any]:
    """Command line shared by the comparison scripts: ``results.json --a A --b B [--fr LABEL] [--out FILE]``.

    Calls ``compare_fn(results, parse(a), parse(b), fr)``, prints its JSON (and writes it to --out).
    """
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('results', help='results.json (or summary.json) of scripts/evaluate.py')
    p.add_argument('--a', required=True, help=a_help)
    p.add_argument('--b', required=True, help=b_help)
    p.add_argument('--fr', default=None, help='an --extra-fr label instead of the main FR network')
    p.add_argument('--condition', default=None,
                   help='in the summary.json of an evaluate.py --protocol run: the probe condition to compare on')
    p.add_argument('--out', default=None, help='also write the JSON here')
    args = p.parse_args(argv)
    with open(args.results) as f:
        results = json.load(f)
    if args.condition is not None or 'conditions' in results:
        conds = results.get('conditions') or {}
        if args.condition not in conds:
            raise SystemExit(f'compare_folds: --condition must be one of {sorted(conds)} for {args.results}'
                             if conds else f'compare_folds: {args.results} has no probe conditions (--condition)')
        results = conds[args.condition]
    result = compare_fn(results, parse(args.a), parse(args.b), args.fr)
    emit_json(result, args.out)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return comparison_main(__doc__, compare, argv, 'method A (its label in the results)', 'method B')


if __name__ == '__main__':
    main()
