"""The ArcFace classification loss: cross-entropy on the logits of :class:`ArcMarginHead`."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fhgan_plugin.losses.reduction import check_reduction
from fhgan_plugin.registry import register_loss


@register_loss
class ArcFaceLoss(nn.Module):
    """Cross-entropy of margin logits (eq. 8 of FH-GAN, ArcFace's loss).

    Args:
        loss_weight: Multiplier.
        reduction: 'mean' | 'sum' | 'none'.

    Shapes:
        logits (N, num_classes) from ArcMarginHead, labels (N,) int64 -> scalar (or (N,) for 'none').
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * F.cross_entropy(logits, labels.long(), reduction=self.reduction)
