"""Mixed precision and memory layout for training: ``train.autocast`` and ``train.channels_last``.

bfloat16 autocast needs no gradient scaler (same exponent range as float32) and is fast on CPUs with AVX512-BF16 /
AMX and on CUDA GPUs from Ampere on; ``train.autocast: auto`` (the CPU-scale options' setting) turns it on exactly
there (:func:`bf16_supported`) and stays in float32 elsewhere. Parameters, optimizer states and losses stay float32;
convolutions and matrix products run in bfloat16. Measured speed-ups and the float32 / bfloat16 A/B of the shipped
recipes: ``docs/benchmarks.md``. Validation and evaluation always run in float32.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

_DTYPES = {'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16}


def bf16_supported(device: torch.device | str = 'cpu') -> bool:
    """Whether ``device`` runs bfloat16 convolutions natively: a CUDA GPU with bfloat16 (Ampere on), or a CPU with
    AVX512-BF16 or AMX that oneDNN can use. Elsewhere bfloat16 is emulated and slower than float32."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != 'cpu' or not torch.backends.mkldnn.is_available():
        return False
    checks = [getattr(torch.cpu, name, None) for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported')]
    return any(bool(c()) for c in checks if c is not None)


def parse_autocast(value: Any, device: torch.device | str = 'cpu') -> torch.dtype | None:
    """``train.autocast`` option → dtype: ``~``/``false``/``float32`` (off), ``bfloat16``, or ``auto`` (bfloat16
    where :func:`bf16_supported` says the device runs it natively, else off).

    float16 is refused: it needs a gradient scaler, which the GAN steps (double backward of the gradient
    penalty) do not use.
    """
    if value in (None, False, 'float32', 'fp32', 'none'):
        return None
    if isinstance(value, str) and value.lower() == 'auto':
        return torch.bfloat16 if bf16_supported(device) else None
    if isinstance(value, str) and value.lower() in _DTYPES:
        return _DTYPES[value.lower()]
    raise ValueError(f'train.autocast = {value!r}: use auto, bfloat16 or ~ (float32); float16 would need a '
                     'gradient scaler and is not supported')


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """``torch.autocast`` on the device's type when ``dtype`` is set, else a no-op context."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_channels_last(*modules: nn.Module) -> None:
    """Convert 4-D parameters and buffers to channels_last in place (the Parameter objects stay the same, so
    optimizers built before keep working)."""
    for m in modules:
        m.to(memory_format=torch.channels_last)


def channels_last_tensor(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels_last layout if it is 4-D, else unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
