"""Additive angular margin head (ArcFace, Deng et al. 2019): logits for the ArcFace loss."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from fhgan_plugin.registry import register_arch


@register_arch
class ArcMarginHead(nn.Module):
    """ArcFace logits ``s·cos(θ_y + m)`` for the target class and ``s·cos θ_j`` for the others.

    θ is the angle between the L2-normalised embedding and the L2-normalised class weight.

    The θ + m > π case (where cos(θ + m) stops decreasing in θ) is made explicit:
        * ``easy_margin=False`` (insightface's choice, default): when θ > π − m the target logit is
          ``s·(cos θ − m·sin m)`` — a linear continuation that stays monotonic;
        * ``easy_margin=True``: the margin is applied only where cos θ > 0 (θ < π/2), else ``s·cos θ``.

    Args:
        embedding_size: Input embedding dimension.
        num_classes: Number of identities.
        s: Scale (64 in FH-GAN / ArcFace).
        m: Additive angular margin in radians (0.5).
        easy_margin: See above.

    Shapes:
        emb (N, embedding_size), labels (N,) int64 -> logits (N, num_classes).
    """

    def __init__(self, embedding_size: int = 512, num_classes: int = 1000, s: float = 64.0, m: float = 0.5,
                 easy_margin: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_size))
        nn.init.normal_(self.weight, std=0.01)
        self.s, self.m, self.easy_margin = float(s), float(m), easy_margin
        self.cos_m, self.sin_m = math.cos(m), math.sin(m)
        self.th = math.cos(math.pi - m)  # θ > π − m  <=>  cos θ < th
        self.mm = math.sin(math.pi - m) * m  # = m·sin m

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """cos θ between each embedding and each class centre, (N, num_classes)."""
        return F.linear(F.normalize(emb, dim=1), F.normalize(self.weight, dim=1)).clamp(-1.0, 1.0)

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = self.cosine(emb)
        sin = torch.sqrt((1.0 - cos * cos).clamp(min=0.0))
        phi = cos * self.cos_m - sin * self.sin_m  # cos(θ + m)
        if self.easy_margin:
            phi = torch.where(cos > 0, phi, cos)
        else:
            phi = torch.where(cos > self.th, phi, cos - self.mm)
        onehot = F.one_hot(labels.long(), cos.shape[1]).to(cos.dtype)
        return self.s * (onehot * phi + (1.0 - onehot) * cos)
