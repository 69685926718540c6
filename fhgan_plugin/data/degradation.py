"""The project's degradations: the canonical bilinear ×s downsampling with antialias (the 28 → 112 protocol), and
MATLAB-style bicubic downsampling (the ×8 face-SR benchmark's convention), both rounded to uint8.

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
    h, w = _check_hr(hr, scale, 'canonical_degradation')
    squeeze = hr.dim() == 3
    x = hr[None] if squeeze else hr
    lq = F.interpolate(x.float(), size=(h // scale, w // scale), mode='bilinear', align_corners=False, antialias=True)
    lq = _to_uint8_grid(lq) if quantize else lq
    return lq[0] if squeeze else lq


def _check_hr(hr: torch.Tensor, scale: int, who: str) -> tuple[int, int]:
    """(H, W) of a (N, C, H, W) or (C, H, W) batch divisible by ``scale``, else a ValueError naming ``who``."""
    if hr.dim() not in (3, 4):
        raise ValueError(f'{who} expects (N, C, H, W) or (C, H, W), got {tuple(hr.shape)}')
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f'HR size {h}x{w} is not divisible by scale {scale}')
    return h, w


def _to_uint8_grid(x: torch.Tensor) -> torch.Tensor:
    return (x * 255.0).round().clamp_(0, 255) / 255.0


def matlab_bicubic_degradation(hr: torch.Tensor, scale: int = 8, quantize: bool = True) -> torch.Tensor:
    """Downsample HR faces like MATLAB's ``imresize(hr, 1/scale)`` (bicubic with antialias): BasicSR's
    :func:`basicsr.utils.matlab_functions.imresize`, the way the ×8 face-SR papers make their 16×16 inputs.
    Arguments and result as :func:`canonical_degradation` (default ``scale`` 8).
    """
    from basicsr.utils.matlab_functions import imresize
    h, w = _check_hr(hr, scale, 'matlab_bicubic_degradation')
    x = hr.float().cpu()
    lq = torch.stack([imresize(im, 1.0 / scale) for im in x.reshape(-1, *x.shape[-3:])]).reshape(
        *x.shape[:-2], h // scale, w // scale)
    return _to_uint8_grid(lq) if quantize else lq.clamp_(0, 1)


#: Degradations by name (the ``degradation`` option of :class:`~fhgan_plugin.data.face_sr_dataset.FaceSRDataset` and
#: of the evaluation's test sets, :func:`fhgan_plugin.evaluation.runner.load_test_set`).
DEGRADATIONS = {'bilinear': canonical_degradation, 'bicubic_matlab': matlab_bicubic_degradation}


def degrade(hr: torch.Tensor, scale: int, kind: str = 'bilinear') -> torch.Tensor:
    """Apply the degradation named ``kind`` (:data:`DEGRADATIONS`), uint8-quantised.

    Raises:
        ValueError: naming ``kind`` and the valid names.
    """
    if kind not in DEGRADATIONS:
        raise ValueError(f'degradation {kind!r} is not one of {sorted(DEGRADATIONS)}')
    return DEGRADATIONS[kind](hr, scale)


def back_project(sr: torch.Tensor, lq: torch.Tensor, iters: int = 5, step: float = 1.0,
                 clamp: bool = True) -> torch.Tensor:
    """Iterative back-projection (Irani & Peleg): make an SR face consistent with its LR input.

    Repeats ``sr += step * bicubic_up(lq - D(sr))`` with ``D`` the canonical degradation (without
    quantisation), so that the SR face's own canonical LR approaches ``lq``; only the content that ``D``
    removes (what the network hallucinated beyond the LR) is kept from ``sr``. On the project's FH-GAN
    outputs 5 iterations cut the mean LR error from ~5 to ~0.07 grey levels (``step`` 1; above ~1.5 it
    diverges).

    Args:
        sr: (N, C, H, W) SR faces in [0, 1].
        lq: (N, C, H / s, W / s) their LR inputs in [0, 1].
        iters: Back-projection steps (0 returns ``sr`` unchanged).
        step: Step size.
        clamp: Clamp the result to [0, 1] (off inside a network being trained, so that every pixel keeps a
            gradient).

    Returns:
        (N, C, H, W) float tensor (in [0, 1] if ``clamp``). The map is affine in ``sr``, hence differentiable.
    """
    if iters < 0:
        raise ValueError(f'back_project: iters must be >= 0, got {iters}')
    if sr.dim() != 4 or lq.dim() != 4 or sr.shape[:2] != lq.shape[:2]:
        raise ValueError(f'back_project expects (N, C, H, W) SR and LR with the same N, C; got '
                         f'{tuple(sr.shape)} and {tuple(lq.shape)}')
    if iters == 0:
        return sr.clamp(0, 1) if clamp else sr
    x = sr.float()
    lq = lq.float()
    for _ in range(iters):
        err = lq - F.interpolate(x, size=lq.shape[-2:], mode='bilinear', align_corners=False, antialias=True)
        x = x + step * F.interpolate(err, size=sr.shape[-2:], mode='bicubic', align_corners=False)
    return x.clamp(0, 1) if clamp else x
