"""The project's canonical degradation: bilinear ×s downsampling with antialias, rounded to uint8.

``F.interpolate(hr, size=(H // s, W // s), mode='bilinear', antialias=True)`` equals PIL's
``Image.resize(..., BILINEAR)`` (a triangle filter widened by the scale factor) to within one grey
level; the result is rounded to 8 bits as if it had been saved to PNG.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def canonical_degradation(hr: torch.Tensor, scale: int = 4, quantize: bool = True) -> torch.Tensor:
    """Downsample HR faces the canonical way.

    Args:
        hr: (N, C, H, W) or (C, H, W) float tensor in [0, 1]; H and W divisible by ``scale``.
        scale: Downsampling factor.
        quantize: Round to multiples of 1/255 (uint8), as a saved LR image would be.

    Returns:
        LR tensor of shape (…, H // scale, W // scale) in [0, 1].
    """
    if hr.dim() not in (3, 4):
        raise ValueError(f'canonical_degradation expects (N, C, H, W) or (C, H, W), got {tuple(hr.shape)}')
    squeeze = hr.dim() == 3
    x = hr[None] if squeeze else hr
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f'HR size {h}x{w} is not divisible by scale {scale}')
    lq = F.interpolate(x.float(), size=(h // scale, w // scale), mode='bilinear', align_corners=False, antialias=True)
    if quantize:
        lq = (lq * 255.0).round().clamp_(0, 255) / 255.0
    return lq[0] if squeeze else lq
