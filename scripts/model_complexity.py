"""Parameters and MACs of DSNet configurations and BasicSR's SR networks at 28x28 -> 112x112 (JSON out).

Usage::  python scripts/model_complexity.py [--out results/model_complexity.json]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fhgan_plugin  # noqa: E402,F401
from fhgan_plugin.utils.complexity import count_macs, count_params, reference_sr_networks  # noqa: E402
from fhgan_plugin.utils.report import emit_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default=None, help='also write the JSON here')
    parser.add_argument('--lr-size', type=int, default=28)
    args = parser.parse_args()
    rows = []
    for name, net in reference_sr_networks(4).items():
        rows.append({'network': name, 'params': count_params(net),
                     'gmacs_28_to_112': round(count_macs(net, (1, 3, args.lr_size, args.lr_size)) / 1e9, 4)})
    emit_json({'input': f'1x3x{args.lr_size}x{args.lr_size}', 'scale': 4, 'rows': rows}, args.out)


if __name__ == '__main__':
    main()
