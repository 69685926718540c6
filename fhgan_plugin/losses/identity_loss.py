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
        feature_layers: Names of FR backbone submodules (e.g. ``['conv2']`` for MobileFaceNet's last 512-channel
            7x6 map) whose outputs are matched too — an identity *feature* loss, beyond the paper (which matches
            embeddings only). Distance per layer: LPIPS-style, channel vectors L2-normalised at each position,
            squared distance summed over channels and averaged over positions (in [0, 4]).
        feature_weight: Weight of the mean feature distance relative to the embedding distance (0: off).
        reduction: 'mean' | 'sum' | 'none' over the batch.

    Shapes:
        sr, hr (N, 3, 112, 112) RGB in [0, 1] -> scalar (or (N,) for 'none').
    """

    def __init__(self, network_fr: dict[str, Any] | None = None, embedder: nn.Module | None = None,
                 frozen: bool = True, distance: str = 'mse', normalize: bool = True, loss_weight: float = 1.0,
                 augment_views: int = 0, max_shift: int = 0, feature_layers: list[str] | None = None,
                 feature_weight: float = 0.0, reduction: str = 'mean') -> None:
        super().__init__()
        if (network_fr is None) == (embedder is None):
            raise ValueError('IdentityLoss needs exactly one of network_fr (options) or embedder (a module)')
        if distance not in ('mse', 'cosine'):
            raise ValueError(f"distance must be 'mse' or 'cosine', got {distance!r}")
        if augment_views < 0 or max_shift < 0:
            raise ValueError(f'augment_views and max_shift must be >= 0, got {augment_views} and {max_shift}')
        if feature_weight < 0:
            raise ValueError(f'feature_weight must be >= 0, got {feature_weight}')
        if feature_weight > 0 and not feature_layers:
            raise ValueError('feature_weight > 0 needs feature_layers (FR backbone submodule names, e.g. [conv2])')
        self.augment_views = augment_views
        self.max_shift = max_shift
        self.embedder = embedder if embedder is not None else FaceEmbedder(**network_fr)
        self.feature_layers = list(feature_layers or []) if feature_weight > 0 else []
        self.feature_weight = feature_weight
        backbone = getattr(self.embedder, 'backbone', self.embedder)
        for name in self.feature_layers:
            try:
                backbone.get_submodule(name)
            except AttributeError as err:
                raise ValueError(f'feature layer {name!r} is not a submodule of {type(backbone).__name__}') from err
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
        """(N,) embedding (+ weighted feature) distances of SR to HR; no gradient through the HR side."""
        e_sr, f_sr = self.embed_with_features(sr)
        with torch.no_grad():
            e_hr, f_hr = self.embed_with_features(hr)
        if self.distance == 'cosine':
            per_sample = 1.0 - F.cosine_similarity(e_sr, e_hr, dim=1)
        else:
            if self.normalize:
                e_sr, e_hr = F.normalize(e_sr, dim=1), F.normalize(e_hr, dim=1)
            per_sample = (e_sr - e_hr).pow(2).mean(1)
        if f_sr:
            feat = torch.stack([feature_distance(a, b) for a, b in zip(f_sr, f_hr)]).mean(0)
            per_sample = per_sample + self.feature_weight * feat
        return per_sample

    def embed_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(N, D) embedding and the outputs of ``feature_layers`` (each (N, C, h, w); empty when off)."""
        if not self.feature_layers:
            return self.embedder(x), []
        backbone = getattr(self.embedder, 'backbone', self.embedder)
        feats: list[torch.Tensor] = []
        handles = [backbone.get_submodule(name).register_forward_hook(lambda _m, _i, out: feats.append(out))
                   for name in self.feature_layers]
        try:
            emb = self.embedder(x)
        finally:
            for h in handles:
                h.remove()
        return emb, feats


def feature_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LPIPS-style distance of two (N, C, h, w) feature maps -> (N,): unit channel vectors, squared distance
    summed over channels, averaged over positions."""
    a, b = F.normalize(a.float(), dim=1), F.normalize(b.float(), dim=1)
    return (a - b).pow(2).sum(1).flatten(1).mean(1)


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
