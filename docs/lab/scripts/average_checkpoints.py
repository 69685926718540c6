"""Average the weights of several checkpoints of one network (e.g. a run's last ``net_g_*.pth``).

Example (measured and rejected for the release model, docs/experiments.md "More measured and rejected")::

    python docs/lab/scripts/average_checkpoints.py --out /tmp/avg400_600.pth \
        experiments/FHGAN_joint_id_x4_cpu/models/net_g_{400,450,500,550,600}.pth

Writes ``{'params': averaged state dict}`` (float32), which ``scripts/evaluate.py`` and BasicSR load.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))  # the repository root

from fhgan_plugin.utils.checkpoint import read_state_dict  # noqa: E402

logger = logging.getLogger('fhgan_plugin')


def average_state_dicts(paths: list[str], param_key: str | None = None) -> dict[str, torch.Tensor]:
    """Element-wise mean (float32) of the state dicts in ``paths``; integer buffers are taken from the first.

    Raises:
        ValueError: no paths, or checkpoints with different keys or shapes.
    """
    if not paths:
        raise ValueError('average_state_dicts needs at least one checkpoint')
    dicts = [read_state_dict(p, param_key) for p in paths]
    first = dicts[0]
    for path, sd in zip(paths[1:], dicts[1:]):
        if sd.keys() != first.keys() or any(sd[k].shape != first[k].shape for k in first):
            raise ValueError(f'{path} does not have the keys / shapes of {paths[0]}: not the same network')
    return {k: (sum(sd[k].float() for sd in dicts) / len(dicts)) if first[k].is_floating_point() else first[k]
            for k in first}


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoints', nargs='+')
    parser.add_argument('--out', required=True)
    parser.add_argument('--param-key', default=None, help="key of the state dict (default: 'params' if present)")
    args = parser.parse_args(argv)
    torch.save({'params': average_state_dicts(args.checkpoints, args.param_key)}, args.out)
    logger.info('averaged %d checkpoints into %s', len(args.checkpoints), args.out)
    return args.out


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    main()
