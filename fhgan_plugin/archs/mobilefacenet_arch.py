"""MobileFaceNet (Chen et al. 2018) with the parameter names of ``Xiaoccer/MobileFaceNet_Pytorch``.

``../shared/models/mobilefacenet_casia_068.pth`` (``{'net_state_dict': …}``, CASIA-WebFace, LFW 99.3 %)
loads with no missing keys. Input: 112x96 RGB (SphereFace framing = columns 8:104 of an ArcFace-aligned
112x112 face), normalised as (x·255 − 127.5) / 128. Output: 128-d embedding.
"""
from __future__ import annotations

import torch
from torch import nn

from fhgan_plugin.registry import register_arch

#: (expansion t, output channels c, repeats n, first stride s) of the bottleneck groups.
MOBILEFACENET_SETTING = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]


class ConvBlock(nn.Module):
    """conv (optionally depthwise) + BN (+ PReLU unless linear); names ``conv``, ``bn``, ``prelu``."""

    def __init__(self, inp: int, oup: int, k: int | tuple[int, int], s: int, p: int, dw: bool = False,
                 linear: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inp, oup, k, s, p, groups=inp if dw else 1, bias=False)
        self.bn = nn.BatchNorm2d(oup)
        self.prelu = None if linear else nn.PReLU(oup)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return x if self.prelu is None else self.prelu(x)


class Bottleneck(nn.Module):
    """Inverted residual: 1x1 expand, 3x3 depthwise (stride), 1x1 linear project; residual if shapes allow."""

    def __init__(self, inp: int, oup: int, stride: int, expansion: int) -> None:
        super().__init__()
        hid = inp * expansion
        self.connect = stride == 1 and inp == oup
        self.conv = nn.Sequential(
            nn.Conv2d(inp, hid, 1, 1, 0, bias=False), nn.BatchNorm2d(hid), nn.PReLU(hid),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.PReLU(hid),
            nn.Conv2d(hid, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.connect else self.conv(x)


@register_arch
class FHMobileFaceNet(nn.Module):
    """MobileFaceNet embedding network.

    Args:
        embedding_size: Output size (128 for the shared checkpoint).
        input_hw: Input (height, width); the final depthwise conv spans the whole (H/16, W/16) map.

    Shapes:
        x (N, 3, 112, 96) normalised -> (N, embedding_size).
    """

    def __init__(self, embedding_size: int = 128, input_hw: tuple[int, int] = (112, 96)) -> None:
        super().__init__()
        h, w = input_hw
        self.input_hw = (h, w)
        self.conv1 = ConvBlock(3, 64, 3, 2, 1)
        self.dw_conv1 = ConvBlock(64, 64, 3, 1, 1, dw=True)
        blocks, inp = [], 64
        for t, c, n, s in MOBILEFACENET_SETTING:
            for i in range(n):
                blocks.append(Bottleneck(inp, c, s if i == 0 else 1, t))
                inp = c
        self.blocks = nn.Sequential(*blocks)
        self.conv2 = ConvBlock(128, 512, 1, 1, 0)
        self.linear7 = ConvBlock(512, 512, (h // 16, w // 16), 1, 0, dw=True, linear=True)
        self.linear1 = ConvBlock(512, embedding_size, 1, 1, 0, linear=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_hw:
            raise ValueError(f'FHMobileFaceNet expects {self.input_hw} inputs, got {tuple(x.shape)}')
        x = self.dw_conv1(self.conv1(x))
        x = self.conv2(self.blocks(x))
        return self.linear1(self.linear7(x)).flatten(1)
