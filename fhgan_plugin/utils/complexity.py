"""Parameter and MAC counts of SR networks (``torch.utils.flop_counter``)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(net: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in net.parameters())


@torch.no_grad()
def count_macs(net: nn.Module, input_shape: tuple[int, ...] = (1, 3, 28, 28)) -> int:
    """Multiply-accumulates of one forward pass (FLOPs / 2 as counted by ``FlopCounterMode``)."""
    x = torch.zeros(input_shape)
    was_training = net.training
    net.eval()
    with FlopCounterMode(display=False) as counter:
        net(x)
    net.train(was_training)
    return int(counter.get_total_flops() // 2)


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
