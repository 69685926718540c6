"""PSNR / SSIM on uint8 images with BasicSR's own functions (crop border 0: the project's convention).

A whole batch is converted to uint8 once (per-image tensor conversions cost more than the metrics did), then
BasicSR's ``calculate_psnr`` / ``calculate_ssim`` run per image: its OpenCV SSIM on one 112x112 face in cache
measured faster on CPU than every batched form tried (BasicSR's float64 ``calculate_ssim_pt``, a float32
depthwise-conv SSIM, one separable filter over the stacked batch; issue 29 in ``docs/experiments.md``).
The images are handed to BasicSR as BGR, the order its Y conversion (``to_y_channel``, ITU-R BT.601, the MATLAB
``rgb2ycbcr`` of the SR papers) assumes.
"""
from __future__ import annotations

import numpy as np
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """Float RGB in [0, 1] (any shape) -> uint8, rounded as BasicSR's ``tensor2img``; uint8 passes through."""
    if img.dtype == torch.uint8:
        return img
    return (img.detach().float().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8)


def to_uint8_hwc(img: torch.Tensor) -> np.ndarray:
    """(3, H, W) float RGB in [0, 1] (or uint8) -> (H, W, 3) uint8."""
    return to_uint8(img).permute(1, 2, 0).numpy()


def psnr_ssim_batch(sr: torch.Tensor, gt: torch.Tensor, crop_border: int = 0,
                    test_y_channel: bool = False) -> tuple[list[float], list[float]]:
    """Per-image PSNR and SSIM of (N, 3, H, W) batches, computed on uint8 RGB (or its Y channel).

    Args:
        sr, gt: float in [0, 1] (rounded to uint8 here) or uint8 tensors of the same shape.
        crop_border: Pixels cut from each edge first.
        test_y_channel: On BasicSR's Y channel (RGB inputs: they are handed to BasicSR's BGR functions as BGR).
    """
    if sr.shape != gt.shape:
        raise ValueError(f'SR shape {tuple(sr.shape)} != GT shape {tuple(gt.shape)}')
    a, b = to_uint8(sr), to_uint8(gt)
    # BasicSR's numpy functions take BGR (its Y conversion assumes it); RGB/BGR order does not matter otherwise
    a_np = a.permute(0, 2, 3, 1).flip(-1).numpy()
    b_np = b.permute(0, 2, 3, 1).flip(-1).numpy()
    psnrs = [float(calculate_psnr(x, y, crop_border, input_order='HWC', test_y_channel=test_y_channel))
             for x, y in zip(a_np, b_np)]
    ssims = [float(calculate_ssim(x, y, crop_border, input_order='HWC', test_y_channel=test_y_channel))
             for x, y in zip(a_np, b_np)]
    return psnrs, ssims
