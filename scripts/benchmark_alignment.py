"""Throughput of the alignment tool (detect + align + write) on real LFW photos (JSON out).

Usage::  python scripts/benchmark_alignment.py [--n 200] [--workers 1 2] [--out results/bench_alignment.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fhgan_plugin.data.pairs import parse_lfw_pairs, unique_images  # noqa: E402
from fhgan_plugin.data.prepare import AlignConfig, align_images  # noqa: E402
from fhgan_plugin.utils.paths import shared_root  # noqa: E402
from fhgan_plugin.utils.report import emit_json  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--shared', default=None)
    parser.add_argument('--n', type=int, default=200)
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    shared = shared_root(args.shared, required=True)
    lfw = os.path.join(shared, 'data', 'lfw')
    rels = unique_images(parse_lfw_pairs(os.path.join(lfw, 'pairs.txt')))[:args.n]
    cfg = AlignConfig(os.path.join(shared, 'models', 'facexlib'))
    runs = []
    for w in args.workers:
        out = tempfile.mkdtemp(prefix='fhgan_bench_align_')
        try:
            t = time.perf_counter()
            counts = align_images(rels, os.path.join(lfw, 'images_deepfunneled'), out, cfg, workers=w,
                                  desc=f'{w} worker(s)')
            dt = time.perf_counter() - t
        finally:
            shutil.rmtree(out, ignore_errors=True)
        runs.append({'workers': w, 'images': len(rels), 'seconds': round(dt, 2),
                     'images_per_s': round(len(rels) / dt, 2), 'statuses': dict(counts)})
    res = {'machine': {'cpus': os.cpu_count(), 'processor': platform.processor() or platform.machine()},
           'detector': 'RetinaFace MobileNet-0.25 (facexlib), original image size', 'runs': runs,
           'note': 'includes worker start-up (model load) and PNG writing'}
    emit_json(res, args.out)
    return res


if __name__ == '__main__':
    main()
