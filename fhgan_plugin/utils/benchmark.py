"""Timing helpers of ``scripts/benchmark.py``: repeated, warmed-up, time-boxed measurements (min / median).

Benchmarks are scripts with JSON output, never timed tests: the tests check these helpers' logic only.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def machine_info() -> dict[str, Any]:
    """CPU model, core count, torch version and thread setting (recorded beside every benchmark)."""
    model = platform.processor() or ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = {'cpu': model, 'logical_cpus': os.cpu_count(), 'torch': torch.__version__,
            'torch_threads': torch.get_num_threads(), 'python': platform.python_version(),
            'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    info['cpu_capability'] = torch.backends.cpu.get_cpu_capability()  # e.g. AVX2, AVX512
    amx = getattr(torch.cpu, '_is_amx_tile_supported', None)
    info['amx'] = bool(amx()) if amx is not None else None
    bf16 = getattr(torch.cpu, '_is_avx512_bf16_supported', None)
    info['avx512_bf16'] = bool(bf16()) if bf16 is not None else None
    from fhgan_plugin.utils.precision import bf16_supported
    info['bfloat16_native'] = bf16_supported('cpu')  # what train.autocast: auto decides
    if hasattr(os, 'getloadavg'):
        info['load_average_1min'] = round(os.getloadavg()[0], 2)
    return info


def time_call(fn: Callable[[], Any], warmup: int = 1, repeats: int = 5, time_box: float = 30.0,
              min_repeats: int = 2, sync: Callable[[], None] | None = None) -> dict[str, Any]:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed calls.

    Timed calls stop early once ``time_box`` seconds have been spent on them and at least ``min_repeats``
    were made (so a slow network costs about ``time_box``, a fast one ``repeats`` calls).

    Returns:
        ``{'min_s', 'median_s', 'repeats', 'times_s'}``.
    """
    if repeats < 1 or min_repeats < 1:
        raise ValueError('repeats and min_repeats must be >= 1')
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
        if len(times) >= min(min_repeats, repeats) and time.perf_counter() - start > time_box:
            break
    return {'min_s': min(times), 'median_s': statistics.median(times), 'repeats': len(times),
            'times_s': [round(t, 6) for t in times]}


def _sync_for(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)


def throughput(timing: dict[str, Any], items: int) -> dict[str, float]:
    """Items per second at the best (min) and typical (median) time."""
    return {'per_s_best': items / timing['min_s'], 'per_s_median': items / timing['median_s']}


def bench_forward(net: nn.Module, batch: int, lr_size: int = 28, device: torch.device | str = 'cpu',
                  channels_last: bool = False, **timing: Any) -> dict[str, Any]:
    """Inference throughput (faces/s) of ``net`` in eval mode under ``torch.inference_mode()``."""
    device = torch.device(device)
    x = torch.rand(batch, 3, lr_size, lr_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    net.eval()

    def run() -> None:
        with torch.inference_mode():
            net(x)

    t = time_call(run, sync=_sync_for(device), **timing)
    return {**t, 'batch': batch, **{f'faces_{k}': v for k, v in throughput(t, batch).items()}}


def bench_train_step(net: nn.Module, batch: int = 8, lr_size: int = 28, scale: int = 4,
                     device: torch.device | str = 'cpu', autocast_dtype: torch.dtype | None = None,
                     channels_last: bool = False, **timing: Any) -> dict[str, Any]:
    """One training step (forward, L1 loss, backward, Adam step) per call, in train mode.

    ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the forward pass under autocast as ``train.autocast`` does;
    ``channels_last`` converts the net and the batch as ``train.channels_last`` does (the net stays converted).
    """
    from fhgan_plugin.utils.precision import autocast, channels_last_tensor, to_channels_last
    device = torch.device(device)
    x = torch.rand(batch, 3, lr_size, lr_size, device=device)
    y = torch.rand(batch, 3, lr_size * scale, lr_size * scale, device=device)
    if channels_last:
        to_channels_last(net)
        x, y = channels_last_tensor(x), channels_last_tensor(y)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast(device, autocast_dtype):
            loss = torch.nn.functional.l1_loss(net(x).float(), y)
        loss.backward()
        opt.step()

    t = time_call(step, sync=_sync_for(device), **timing)
    net.eval()
    return {**t, 'batch': batch, **{f'faces_{k}': v for k, v in throughput(t, batch).items()}}


def conv_peak_gflops(channels: int = 256, size: int = 56, batch: int = 4, device: torch.device | str = 'cpu',
                     **timing: Any) -> dict[str, Any]:
    """Achieved GFLOP/s of one large 3x3 convolution: the practical compute limit of the machine.

    FLOPs = 2 x MACs, MACs = batch * channels^2 * 9 * size^2.
    """
    device = torch.device(device)
    conv = nn.Conv2d(channels, channels, 3, 1, 1, bias=False).to(device).eval()
    x = torch.rand(batch, channels, size, size, device=device)

    def run() -> None:
        with torch.inference_mode():
            conv(x)

    t = time_call(run, sync=_sync_for(device), **timing)
    flops = 2 * batch * channels * channels * 9 * size * size
    return {**t, 'shape': [batch, channels, size, size], 'gflop': flops / 1e9,
            'gflops_per_s_best': flops / t['min_s'] / 1e9, 'gflops_per_s_median': flops / t['median_s'] / 1e9}


def max_abs_error(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    """max |a(x) - b(x)| under ``torch.inference_mode()``."""
    with torch.inference_mode():
        return float((a(x).float() - b(x).float()).abs().max())
