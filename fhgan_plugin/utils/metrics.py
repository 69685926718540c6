"""PSNR / SSIM on uint8 images, equal to BasicSR's ``calculate_psnr`` / ``calculate_ssim`` (crop border 0: the
project's convention), computed for a whole batch at once.

BasicSR's functions take one image at a time and filter each channel with an 11x11 ``cv2.filter2D``: on CPU that
was the slowest part of an evaluation (51 s for the 7,701 LFW faces, one core; issue 29 in ``docs/experiments.md``).
:func:`psnr_ssim_batch` does the same arithmetic (float64, the same Gaussian window, 'valid' region, per-channel
mean) on the batch: the window is separable (``outer(g, g)``), so it runs as one ``cv2.sepFilter2D`` over all
images and channels stacked into one tall array; no filtered value in the kept 'valid' region reads across two
stacked images. Equal to BasicSR's per-image values to float rounding (~1e-12; tested against them). The Y
channel is BasicSR's own ``bgr2ycbcr`` (ITU-R BT.601, the MATLAB ``rgb2ycbcr`` of the SR papers); RGB inputs
are handed to it as BGR, the order it assumes.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from basicsr.utils.color_util import bgr2ycbcr

#: BasicSR's SSIM constants and window (``basicsr.metrics.psnr_ssim._ssim``).
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
_GAUSS = cv2.getGaussianKernel(11, 1.5)


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """Float RGB in [0, 1] (any shape) -> uint8, rounded as BasicSR's ``tensor2img``; uint8 passes through."""
    if img.dtype == torch.uint8:
        return img
    return (img.detach().float().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8)


def to_uint8_hwc(img: torch.Tensor) -> np.ndarray:
    """(3, H, W) float RGB in [0, 1] (or uint8) -> (H, W, 3) uint8."""
    return to_uint8(img).permute(1, 2, 0).numpy()


def _planes(img: torch.Tensor, crop_border: int, test_y_channel: bool) -> np.ndarray:
    """(N, C, H, W) uint8 RGB -> (N, C', H', W') float64 planes as BasicSR measures them (cropped; Y or RGB)."""
    x = img.numpy()
    if crop_border:
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel:  # BasicSR's to_y_channel: float32 [0, 1] BGR -> Y in [0, 1] -> x 255
        bgr = np.ascontiguousarray(x.transpose(0, 2, 3, 1)[..., ::-1]).astype(np.float32) / 255.
        return (bgr2ycbcr(bgr, y_only=True) * 255.)[:, None].astype(np.float64)
    return x.astype(np.float64)


def _filter(planes: np.ndarray) -> np.ndarray:
    """BasicSR's 11x11 Gaussian filter of every (H, W) plane, 'valid' region only: (N, C, H - 10, W - 10)."""
    n, c, h, w = planes.shape
    tall = np.ascontiguousarray(planes).reshape(n * c * h, w)
    return cv2.sepFilter2D(tall, -1, _GAUSS, _GAUSS).reshape(n, c, h, w)[..., 5:-5, 5:-5]


def ssim_planes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image SSIM of (N, C, H, W) float64 planes in [0, 255] (mean over channels, as BasicSR)."""
    mu1, mu2 = _filter(a), _filter(b)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 ** 2, mu2 ** 2, mu1 * mu2
    sigma1_sq = _filter(a ** 2) - mu1_sq
    sigma2_sq = _filter(b ** 2) - mu2_sq
    sigma12 = _filter(a * b) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + _C1) * (2 * sigma12 + _C2)) / ((mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2))
    return ssim_map.mean(axis=(2, 3)).mean(axis=1)


def psnr_ssim_batch(sr: torch.Tensor, gt: torch.Tensor, crop_border: int = 0,
                    test_y_channel: bool = False) -> tuple[list[float], list[float]]:
    """Per-image PSNR and SSIM of (N, 3, H, W) batches, computed on uint8 RGB (or its Y channel).

    Args:
        sr, gt: float in [0, 1] (rounded to uint8 here) or uint8 tensors of the same shape.
        crop_border: Pixels cut from each edge first.
        test_y_channel: On BasicSR's Y channel instead of RGB.

    Returns:
        PSNR (dB; ``inf`` for identical images, as BasicSR) and SSIM, one per image.
    """
    if sr.shape != gt.shape:
        raise ValueError(f'SR shape {tuple(sr.shape)} != GT shape {tuple(gt.shape)}')
    if sr.dim() != 4 or sr.shape[-1] - 2 * crop_border < 11 or sr.shape[-2] - 2 * crop_border < 11:
        raise ValueError(f'expected (N, C, H, W) images of at least 11x11 after a crop of {crop_border}, got '
                         f'{tuple(sr.shape)}')
    a, b = _planes(to_uint8(sr), crop_border, test_y_channel), _planes(to_uint8(gt), crop_border, test_y_channel)
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    with np.errstate(divide='ignore'):
        psnr = np.where(mse == 0, np.inf, 10. * np.log10(255. * 255. / mse))
    return [float(v) for v in psnr], [float(v) for v in ssim_planes(a, b)]
