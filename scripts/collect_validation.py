"""Validation history of BasicSR training runs, from their logs (JSON out).

For each experiment folder: every validation (iteration, dataset, metric values), the runs it was made
of (start iteration — >0 means resumed — start and end time, wall seconds) and the last iteration.
Works for any BasicSR experiment; the plugin's pair validation also writes ``validation_metrics.jsonl``.

Usage::  python scripts/collect_validation.py experiments/DSNet_GAN_x4_cpu [more folders] [--out f.json]
         python scripts/collect_validation.py experiments/EDSR_x8_cpu --best psnr   # the checkpoint to evaluate
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from datetime import datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fhgan_plugin.utils.report import emit_json  # noqa: E402

_TIME = re.compile(r'^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),\d+ INFO: ')
_ITER = re.compile(r'iter:\s*([\d,]+),')
_START = re.compile(r'(Start training|Resuming training) from epoch: \d+, iter: (\d+)')
_VAL = re.compile(r'^Validation (\S+)')
_METRIC = re.compile(r'^\s*# (\S+): ([-\d.]+|nan|inf)')
_END = re.compile(r'End of training')
_OPT = re.compile(r'^\s+(val_freq|total_iter): ([\d.e+]+)\s*$')


def parse_log(path: str) -> dict[str, Any]:
    """One training log: its run and validations. A periodic validation's iteration is the first multiple
    of ``val_freq`` (from the options dumped at the top of the log) at or after the last logged iteration;
    the validation after "End of training" is at ``total_iter``."""
    run: dict[str, Any] = {'log': os.path.basename(path), 'resumed': False}
    vals: list[dict[str, Any]] = []
    opts: dict[str, float] = {}
    last_iter, last_time, ended = 0, None, False
    with open(path, errors='replace') as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        o = _OPT.match(line)
        if o and o[1] not in opts:
            opts[o[1]] = float(o[2])
        m = _TIME.match(line)
        if m:
            last_time = m[1]
        s = _START.search(line)
        if s:
            run.setdefault('start_iter', int(s[2]))
            run.setdefault('start_time', last_time)
            run['resumed'] = run['resumed'] or s[1].startswith('Resum')
            last_iter = int(s[2])
            continue
        it = _ITER.search(line)
        if it and 'INFO: [' in line:
            last_iter = int(it[1].replace(',', ''))
        if _END.search(line):
            ended = True
            run['end_time'] = last_time
        v = _VAL.match(line.split('INFO: ', 1)[-1])
        if v:
            if ended and 'total_iter' in opts:
                at = int(opts['total_iter'])
            elif opts.get('val_freq'):
                freq = int(opts['val_freq'])
                at = -(-last_iter // freq) * freq
            else:
                at = last_iter
            row: dict[str, Any] = {'iter': at, 'dataset': v[1], 'time': last_time}
            for nxt in lines[i + 1:i + 10]:
                mm = _METRIC.match(nxt)
                if not mm:
                    break
                row[mm[1]] = float(mm[2])
            vals.append(row)
            last_iter = max(last_iter, at)
    run['last_iter'] = int(opts['total_iter']) if ended and 'total_iter' in opts else last_iter
    run['finished'] = ended
    t0, t1 = run.get('start_time'), run.get('end_time') or last_time
    if t0 and t1:
        fmt = '%Y-%m-%d %H:%M:%S'
        run['wall_seconds'] = (datetime.strptime(t1, fmt) - datetime.strptime(t0, fmt)).total_seconds()
    return {'runs': [run] if 'start_iter' in run else [], 'validations': vals}


def collect(folder: str) -> dict[str, Any]:
    logs = sorted(glob.glob(os.path.join(folder, 'train_*.log')))
    if not logs:
        raise FileNotFoundError(f'no train_*.log under {folder}')
    runs, vals = [], []
    for path in logs:
        part = parse_log(path)
        runs += part['runs']
        vals += part['validations']
    return {'experiment': os.path.basename(os.path.normpath(folder)), 'runs': runs, 'validations': vals,
            'last_iter': max((r.get('last_iter', 0) for r in runs), default=0),
            'wall_seconds': sum(r.get('wall_seconds', 0) for r in runs)}


def select_checkpoint(run_dir: str, metric: str) -> dict[str, Any]:
    """The saved generator checkpoint of ``run_dir`` with the highest validation ``metric`` (later one on ties).
    ``metric`` may name its validation set, ``METRIC@DATASET``; it must when several sets report the metric.

    Raises:
        ValueError: no validation of ``metric`` has a saved checkpoint (naming what was found), or the metric is
            reported by several validation sets and none is named.
    """
    history = collect(run_dir)
    metric, _, dataset = metric.partition('@')
    sets = sorted({v['dataset'] for v in history['validations'] if metric in v})
    if not dataset and len(sets) > 1:
        raise ValueError(f'{run_dir}: {metric!r} is reported by the validation sets {sets}; name one, '
                         f'e.g. {metric}@{sets[0]}')
    found = []
    for v in history['validations']:
        if metric not in v or (dataset and v['dataset'] != dataset):
            continue
        path = os.path.join(run_dir, 'models', f"net_g_{v['iter']}.pth")
        if not os.path.isfile(path) and v['iter'] == history['last_iter']:
            path = os.path.join(run_dir, 'models', 'net_g_latest.pth')
        if os.path.isfile(path) and all(f[1] != v['iter'] for f in found):  # the end-of-training repeat: once
            found.append((v[metric], v['iter'], path))
    if not found:
        raise ValueError(f'{run_dir}: no validation with {metric!r} has a saved checkpoint '
                         f"(validations: {history['validations']})")
    value, it, path = max(found)
    return {'metric': metric, 'dataset': dataset or (sets[0] if sets else None), 'value': value, 'iter': it,
            'checkpoint': path,
            'candidates': [{'iter': i, metric: m} for m, i, _ in sorted(found, key=lambda t: t[1])]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('folders', nargs='+')
    p.add_argument('--out', default=None)
    p.add_argument('--best', default=None, metavar='METRIC',
                   help='print only the path of the saved checkpoint with the highest validation METRIC (one folder)')
    args = p.parse_args(argv)
    if args.best:
        if len(args.folders) != 1:
            raise SystemExit('collect_validation: --best takes one experiment folder')
        sel = select_checkpoint(args.folders[0], args.best)
        print(sel['checkpoint'])
        return sel
    result = {'experiments': [collect(f) for f in args.folders]}
    emit_json(result, args.out)
    return result


if __name__ == '__main__':
    main()
