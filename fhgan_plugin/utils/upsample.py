"""Classical upsampling baselines (PIL, as MATLAB-style resizes are computed in this project)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

PIL_FILTERS = {'bicubic': Image.BICUBIC, 'bilinear': Image.BILINEAR, 'nearest': Image.NEAREST}


def pil_upsample(lq: torch.Tensor, scale: int = 4, method: str = 'bicubic') -> torch.Tensor:
    """Upsample a batch with PIL on the uint8 grid.

    Args:
        lq: (N, 3, h, w) float RGB in [0, 1] (values are rounded to uint8 first).
        scale: Upsampling factor.
        method: 'bicubic' (the project's baseline), 'bilinear' or 'nearest'.

    Returns:
        (N, 3, h*scale, w*scale) float RGB in [0, 1] on the uint8 grid.
    """
    if method not in PIL_FILTERS:
        raise ValueError(f'unknown upsampling method {method!r}; choose one of {sorted(PIL_FILTERS)}')
    arr = (lq.detach().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    h, w = arr.shape[1:3]
    out = [np.asarray(Image.fromarray(a).resize((w * scale, h * scale), PIL_FILTERS[method])) for a in arr]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0


def opencv_bicubic(lq: torch.Tensor, scale: int) -> torch.Tensor:
    """Upsample a batch with OpenCV's bicubic (``cv2.INTER_CUBIC``, a = -0.75) on the uint8 grid: the "Bicubic"
    baseline of the ×8 face-SR papers (their published row is matched with it, docs/results/x8_benchmark.md).

    Args:
        lq: (N, 3, h, w) float RGB in [0, 1] (values are rounded to uint8 first).
        scale: Upsampling factor.

    Returns:
        (N, 3, h*scale, w*scale) float RGB in [0, 1] on the uint8 grid.
    """
    import cv2
    arr = (lq.detach().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    h, w = arr.shape[1:3]
    out = [cv2.resize(a, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC) for a in arr]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0
