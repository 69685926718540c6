"""Parameter and MAC counts of SR networks (``torch.utils.flop_counter``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(net: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in net.parameters())


@torch.no_grad()
def count_call_macs(fn: Callable[..., Any], *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of ``fn(*inputs)`` (convolutions and matrix products: FLOPs / 2 as counted by
    ``FlopCounterMode``; element-wise work such as activations and normalisation is not counted)."""
    with FlopCounterMode(display=False) as counter:
        fn(*inputs)
    return int(counter.get_total_flops() // 2)


@torch.no_grad()
def count_macs(net: nn.Module, input_shape: tuple[int, ...] = (1, 3, 28, 28)) -> int:
    """Multiply-accumulates of one forward pass (eval mode) of ``net`` on zeros of ``input_shape``."""
    was_training = net.training
    net.eval()
    macs = count_call_macs(net, torch.zeros(input_shape))
    net.train(was_training)
    return macs


def evaluation_macs(sr_net: nn.Module | None, fr: nn.Module | None, lpips: nn.Module | None, lr_size: int,
                    hr_size: int, images: int, lpips_images: int) -> dict[str, int]:
    """The arithmetic of one network method's evaluation (``scripts/evaluate.py``), per pass, in MACs.

    Args:
        sr_net: The SR network (one (1, 3, lr_size, lr_size) forward per image), or None.
        fr: The FR network as the evaluation calls it (a ``FaceEmbedder`` with ``flip_concat`` counts the mirror
            image too), one (1, 3, hr_size, hr_size) forward per image, or None.
        lpips: The LPIPS module (two (1, 3, hr_size, hr_size) inputs: both images through VGG, plus its linear
            heads), one call per LPIPS image, or None.
        images: Faces super-resolved and embedded (7,701 for LFW's pairs).
        lpips_images: Faces with an LPIPS value (``--lpips-images``).

    Returns:
        ``{'sr', 'fr', 'lpips', 'total'}`` multiply-accumulates (0 for a pass that is None). At a machine's
        convolution peak (FLOP/s), ``2 * total / peak`` seconds is the least the evaluation's arithmetic can take.
    """
    hr = torch.zeros(1, 3, hr_size, hr_size)
    out = {'sr': count_macs(sr_net, (1, 3, lr_size, lr_size)) * images if sr_net is not None else 0,
           'fr': count_call_macs(fr.eval(), hr) * images if fr is not None else 0,
           'lpips': count_call_macs(lpips.eval(), hr, hr) * lpips_images if lpips is not None else 0}
    out['total'] = sum(out.values())
    return out


def reference_sr_networks(scale: int = 4) -> dict[str, nn.Module]:
    """DSNet configurations next to BasicSR's MSRResNet, EDSR-baseline, RRDBNet and a lightweight SwinIR.

    SwinIR uses the lightweight-SR setting of the SwinIR paper (embed 60, 4x6 blocks, 6 heads, MLP ratio 2,
    pixel-shuffle-direct upsampler) with window 7 instead of 8, so that 28x28 inputs divide into windows.
    """
    from basicsr.archs.edsr_arch import EDSR
    from basicsr.archs.rrdbnet_arch import RRDBNet
    from basicsr.archs.srresnet_arch import MSRResNet
    from basicsr.archs.swinir_arch import SwinIR

    from fhgan_plugin.archs.dsnet_arch import DSNet
    return {
        'DSNet (paper)': DSNet.from_config('paper', upscale=scale),
        'DSNet (paper, single x4 shuffle)': DSNet.from_config('paper', upscale=scale, upsample_mode='single'),
        'DSNet (paper, sparse block output)': DSNet.from_config('paper', upscale=scale, block_output='sparse'),
        'DSNet (cpu)': DSNet.from_config('cpu', upscale=scale),
        'MSRResNet (16 blocks)': MSRResNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=scale),
        'EDSR-baseline (64ch, 16 blocks)': EDSR(3, 3, num_feat=64, num_block=16, upscale=scale, res_scale=1,
                                                 img_range=255.),
        'RRDBNet (23 blocks, 64/32)': RRDBNet(3, 3, scale=scale, num_feat=64, num_block=23, num_grow_ch=32),
        'SwinIR-light (window 7)': SwinIR(upscale=scale, in_chans=3, img_size=28, window_size=7, img_range=1.,
                                          depths=[6, 6, 6, 6], embed_dim=60, num_heads=[6, 6, 6, 6], mlp_ratio=2,
                                          upsampler='pixelshuffledirect', resi_connection='1conv'),
    }
