"""Identity loss (FH-GAN eq. 9): distance between FR embeddings of the SR and the HR face."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fhgan_plugin.archs.face_recognizer import FaceEmbedder
from fhgan_plugin.losses.reduction import check_reduction, reduce
from fhgan_plugin.registry import register_loss


@register_loss
class IdentityLoss(nn.Module):
    """MSE (or cosine distance) between FR embeddings of SR and HR faces.

    The FR network is either built here from options (``network_fr`` = :class:`FaceEmbedder` arguments,
    weights from ``network_fr.pretrain_path``) or passed in (``embedder``) so that the joint FH-GAN model
    can share the ArcFace network it trains. With ``frozen=True`` its parameters get no gradient and it
    stays in eval mode; the gradient always flows to the SR image. The HR embedding is a constant target.

    Choices (the paper says "MSE between embeddings"): embeddings are L2-normalised first
    (``normalize=True``), which makes the loss scale-free across FR networks; MSE is averaged over the
    embedding dimension.

    Args:
        network_fr: FaceEmbedder options, e.g. ``{backbone: {type: FHMobileFaceNet}, pretrain_path: …}``.
        embedder: An existing FR module (instead of ``network_fr``).
        frozen: Freeze the FR network.
        distance: 'mse' or 'cosine' (1 − cos).
        normalize: L2-normalise embeddings before 'mse'.
        loss_weight: λ4 of eq. 10.
        reduction: 'mean' | 'sum' | 'none' over the batch.

    Shapes:
        sr, hr (N, 3, 112, 112) RGB in [0, 1] -> scalar (or (N,) for 'none').
    """

    def __init__(self, network_fr: dict[str, Any] | None = None, embedder: nn.Module | None = None,
                 frozen: bool = True, distance: str = 'mse', normalize: bool = True, loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__()
        if (network_fr is None) == (embedder is None):
            raise ValueError('IdentityLoss needs exactly one of network_fr (options) or embedder (a module)')
        if distance not in ('mse', 'cosine'):
            raise ValueError(f"distance must be 'mse' or 'cosine', got {distance!r}")
        self.embedder = embedder if embedder is not None else FaceEmbedder(**network_fr)
        self.frozen = frozen
        self.distance = distance
        self.normalize = normalize
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)
        if frozen:
            self.embedder.eval()
            for p in self.embedder.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> IdentityLoss:
        super().train(mode)
        if self.frozen:
            self.embedder.eval()
        return self

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        e_sr = self.embedder(sr)
        with torch.no_grad():
            e_hr = self.embedder(hr)
        if self.distance == 'cosine':
            per_sample = 1.0 - F.cosine_similarity(e_sr, e_hr, dim=1)
        else:
            if self.normalize:
                e_sr, e_hr = F.normalize(e_sr, dim=1), F.normalize(e_hr, dim=1)
            per_sample = (e_sr - e_hr).pow(2).mean(1)
        return self.loss_weight * reduce(per_sample, self.reduction)
