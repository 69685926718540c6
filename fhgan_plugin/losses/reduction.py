"""The loss contract shared by every plugin loss: ``loss_weight`` and ``reduction``."""
from __future__ import annotations

import torch

REDUCTIONS = ('none', 'mean', 'sum')


def check_reduction(reduction: str) -> str:
    """Validate a ``reduction`` argument."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
    return reduction


def reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce a (N,) tensor of per-sample losses."""
    if reduction == 'mean':
        return per_sample.mean()
    if reduction == 'sum':
        return per_sample.sum()
    return per_sample
