"""PSNR / SSIM on uint8 RGB with BasicSR's own functions (crop border 0: the project's convention)."""
from __future__ import annotations

import numpy as np
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim


def to_uint8_hwc(img: torch.Tensor) -> np.ndarray:
    """(3, H, W) float RGB in [0, 1] -> (H, W, 3) uint8, rounded as BasicSR's ``tensor2img``."""
    return (img.detach().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def psnr_ssim_batch(sr: torch.Tensor, gt: torch.Tensor, crop_border: int = 0,
                    test_y_channel: bool = False) -> tuple[list[float], list[float]]:
    """Per-image PSNR and SSIM of (N, 3, H, W) batches in [0, 1], computed on uint8 RGB."""
    if sr.shape != gt.shape:
        raise ValueError(f'SR shape {tuple(sr.shape)} != GT shape {tuple(gt.shape)}')
    psnrs, ssims = [], []
    for a, b in zip(sr, gt):
        x, y = to_uint8_hwc(a), to_uint8_hwc(b)
        psnrs.append(float(calculate_psnr(x, y, crop_border, input_order='HWC', test_y_channel=test_y_channel)))
        ssims.append(float(calculate_ssim(x, y, crop_border, input_order='HWC', test_y_channel=test_y_channel)))
    return psnrs, ssims
