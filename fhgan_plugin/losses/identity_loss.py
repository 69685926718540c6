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
        augment_views: Extra randomly flipped / shifted views of each pair (0: the plain loss).
        max_shift: Largest shift, in pixels, of an extra view (0: flips only).
        reduction: 'mean' | 'sum' | 'none' over the batch.

    Shapes:
        sr, hr (N, 3, 112, 112) RGB in [0, 1] -> scalar (or (N,) for 'none').
    """

    def __init__(self, network_fr: dict[str, Any] | None = None, embedder: nn.Module | None = None,
                 frozen: bool = True, distance: str = 'mse', normalize: bool = True, loss_weight: float = 1.0,
                 augment_views: int = 0, max_shift: int = 0, reduction: str = 'mean') -> None:
        super().__init__()
        if (network_fr is None) == (embedder is None):
            raise ValueError('IdentityLoss needs exactly one of network_fr (options) or embedder (a module)')
        if distance not in ('mse', 'cosine'):
            raise ValueError(f"distance must be 'mse' or 'cosine', got {distance!r}")
        if augment_views < 0 or max_shift < 0:
            raise ValueError(f'augment_views and max_shift must be >= 0, got {augment_views} and {max_shift}')
        self.augment_views = augment_views
        self.max_shift = max_shift
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
        per_sample = self.per_sample_distance(sr, hr)
        for _ in range(self.augment_views):
            sr_v, hr_v = random_view(sr, hr, self.max_shift)
            per_sample = per_sample + self.per_sample_distance(sr_v, hr_v)
        per_sample = per_sample / (1 + self.augment_views)
        return self.loss_weight * reduce(per_sample, self.reduction)

    def per_sample_distance(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """(N,) embedding distances of SR to HR; no gradient through the HR embedding."""
        e_sr = self.embedder(sr)
        with torch.no_grad():
            e_hr = self.embedder(hr)
        if self.distance == 'cosine':
            per_sample = 1.0 - F.cosine_similarity(e_sr, e_hr, dim=1)
        else:
            if self.normalize:
                e_sr, e_hr = F.normalize(e_sr, dim=1), F.normalize(e_hr, dim=1)
            per_sample = (e_sr - e_hr).pow(2).mean(1)
        return per_sample


def random_view(sr: torch.Tensor, hr: torch.Tensor, max_shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random flip (p = 0.5) and shift (up to ``max_shift`` px) of each SR/HR pair.

    Args:
        sr, hr: (N, C, H, W) pairs.
        max_shift: Largest shift in pixels; borders are edge-replicated.

    Returns:
        (sr_view, hr_view), both (N, C, H, W).
    """
    n, _, h, w = sr.shape
    flip = torch.rand(n, device=sr.device) < 0.5
    both = torch.cat([sr, hr], 0)
    both = torch.where(torch.cat([flip, flip])[:, None, None, None], both.flip(-1), both)
    if max_shift > 0:
        both = F.pad(both, [max_shift] * 4, mode='replicate')
        dy = torch.randint(0, 2 * max_shift + 1, (n,)).tolist()
        dx = torch.randint(0, 2 * max_shift + 1, (n,)).tolist()
        crops = [both[i, :, dy[i % n]:dy[i % n] + h, dx[i % n]:dx[i % n] + w] for i in range(2 * n)]
        both = torch.stack(crops)
    return both[:n], both[n:]
