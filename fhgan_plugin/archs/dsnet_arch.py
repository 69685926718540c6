"""DSNet: the dense-sparse face hallucination generator of FH-GAN.

Structure (DEVELOPERS.md): two 3x3 conv low-level extractors -> ``num_block`` SparseBlocks of
``num_layer`` (conv3x3 + PReLU, growth ``growth``) layers, layer *l* fed the concatenation of the
earlier outputs at offsets 1, 2, 4, 8… (SparseNet exponential aggregation) -> each block fed the
concatenation of the low-level features and all previous block outputs -> 1x1 bottleneck to
``num_bottleneck`` channels -> sub-pixel upsampling -> conv3x3 to ``num_out_ch``.

Where the paper is silent, these are arguments (defaults in brackets, reasons beside them):

* ``block_output`` ['all']: a block outputs all its layer outputs concatenated (SRDenseNet's dense
  block output, which DSNet sparsifies inside the block only), or 'sparse': only the outputs a
  hypothetical layer ``num_layer + 1`` would fetch (offsets 1, 2, 4… from the end), as SparseNet does.
* ``bottleneck_low_level`` [True]: the bottleneck also sees the low-level features (SRDenseNet_All
  style skip, the best SRDenseNet variant).
* ``upsample_mode`` ['progressive']: ×2 sub-pixel steps (conv3x3 + PixelShuffle(2) + PReLU) repeated
  log2(scale) times, like SRDenseNet's two deconvolution layers; 'single' uses one conv +
  PixelShuffle(scale) (≈2× the upsampler parameters at ×4).
* The low-level extractors use PReLU after each conv, as every other conv of the network.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from fhgan_plugin.data.degradation import back_project
from fhgan_plugin.registry import register_arch

#: Named configurations. ``paper``: the sizes of DEVELOPERS.md. ``cpu``: a reduced width for CPU-scale
#: training in minutes (used by ``options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml``).
DSNET_CONFIGS: dict[str, dict] = {
    'paper': dict(num_feat=64, num_block=6, num_layer=6, growth=32, num_bottleneck=128),
    'cpu': dict(num_feat=32, num_block=4, num_layer=4, growth=16, num_bottleneck=32),
}


def sparse_offsets(layer: int) -> list[int]:
    """Indices of the outputs fetched by 1-indexed ``layer``: ``layer - 2**k`` for all ``2**k <= layer``.

    Index 0 is the block input. ``sparse_offsets(6) == [5, 4, 2]``.
    """
    out, k = [], 1
    while k <= layer:
        out.append(layer - k)
        k *= 2
    return out


class SparseBlock(nn.Module):
    """Sparsely aggregated block (SparseNet exponential aggregation).

    Args:
        in_ch: Channels of the block input.
        num_layer: Number of conv3x3 + PReLU layers.
        growth: Output channels of each layer.
        block_output: 'all' (concatenate all layer outputs) or 'sparse' (the SparseNet fetch at the end).

    Shapes:
        x (N, in_ch, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, in_ch: int, num_layer: int = 6, growth: int = 32, block_output: str = 'all') -> None:
        super().__init__()
        if block_output not in ('all', 'sparse'):
            raise ValueError(f"block_output must be 'all' or 'sparse', got {block_output!r}")
        self.block_output = block_output
        self.fetch = [sparse_offsets(layer) for layer in range(1, num_layer + 1)]
        chans = [in_ch] + [growth] * num_layer
        self.layers = nn.ModuleList()
        for idx in self.fetch:
            c = sum(chans[i] for i in idx)
            self.layers.append(nn.Sequential(nn.Conv2d(c, growth, 3, 1, 1), nn.PReLU(growth)))
        if block_output == 'all':
            self.out_index = list(range(1, num_layer + 1))
        else:
            self.out_index = [i for i in sparse_offsets(num_layer + 1) if i > 0]
        self.out_channels = growth * len(self.out_index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for idx, layer in zip(self.fetch, self.layers):
            inp = feats[idx[0]] if len(idx) == 1 else torch.cat([feats[i] for i in idx], 1)
            feats.append(layer(inp))
        return torch.cat([feats[i] for i in self.out_index], 1)


@register_arch
class DSNet(nn.Module):
    """DSNet generator (FH-GAN), ×2/×4/×8 sub-pixel upsampling.

    Args:
        num_in_ch: Input channels.
        num_out_ch: Output channels.
        num_feat: Channels of the two low-level extractors.
        num_block: Number of SparseBlocks.
        num_layer: Layers per SparseBlock.
        growth: Growth rate (output channels of each block layer).
        num_bottleneck: Output channels of the 1x1 bottleneck (and of the upsampler).
        upscale: 2, 4 or 8.
        block_output: 'all' or 'sparse' (see module docstring).
        bottleneck_low_level: Feed the low-level features to the bottleneck too.
        upsample_mode: 'progressive' (×2 steps) or 'single' (one PixelShuffle(upscale)).
        img_range: Inputs are multiplied by this before the network and outputs divided by it.
        back_projection: Steps of iterative back-projection applied to the output (0: none), making it
            consistent with the input under the canonical degradation
            (:func:`fhgan_plugin.data.degradation.back_project`, unclamped, differentiable, no parameters:
            checkpoints load either way). Beyond the paper; trained with it, the losses only shape what
            the degradation removes.

    Shapes:
        x (N, num_in_ch, H, W) in [0, 1] -> (N, num_out_ch, H*upscale, W*upscale).
    """

    def __init__(self,
                 num_in_ch: int = 3,
                 num_out_ch: int = 3,
                 num_feat: int = 64,
                 num_block: int = 6,
                 num_layer: int = 6,
                 growth: int = 32,
                 num_bottleneck: int = 128,
                 upscale: int = 4,
                 block_output: str = 'all',
                 bottleneck_low_level: bool = True,
                 upsample_mode: str = 'progressive',
                 img_range: float = 1.0,
                 back_projection: int = 0) -> None:
        super().__init__()
        if back_projection < 0:
            raise ValueError(f'back_projection must be >= 0, got {back_projection}')
        self.back_projection = back_projection
        if upscale not in (2, 4, 8):
            raise ValueError(f'DSNet upscale must be 2, 4 or 8, got {upscale}')
        if upsample_mode not in ('progressive', 'single'):
            raise ValueError(f"upsample_mode must be 'progressive' or 'single', got {upsample_mode!r}")
        self.upscale = upscale
        self.img_range = img_range
        self.bottleneck_low_level = bottleneck_low_level
        self.low_level = nn.Sequential(
            nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU(num_feat),
            nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat))
        self.blocks = nn.ModuleList()
        in_ch = num_feat
        for _ in range(num_block):
            block = SparseBlock(in_ch, num_layer, growth, block_output)
            self.blocks.append(block)
            in_ch += block.out_channels
        bottleneck_in = in_ch if bottleneck_low_level else in_ch - num_feat
        self.bottleneck = nn.Sequential(nn.Conv2d(bottleneck_in, num_bottleneck, 1), nn.PReLU(num_bottleneck))
        steps = [2] * int(math.log2(upscale)) if upsample_mode == 'progressive' else [upscale]
        ups: list[nn.Module] = []
        for s in steps:
            ups += [nn.Conv2d(num_bottleneck, num_bottleneck * s * s, 3, 1, 1), nn.PixelShuffle(s),
                    nn.PReLU(num_bottleneck)]
        self.upsample = nn.Sequential(*ups)
        self.conv_last = nn.Conv2d(num_bottleneck, num_out_ch, 3, 1, 1)

    @classmethod
    def from_config(cls, name: str, **kwargs) -> DSNet:
        """Build a named configuration of :data:`DSNET_CONFIGS` (keyword arguments override it)."""
        if name not in DSNET_CONFIGS:
            raise KeyError(f'unknown DSNet config {name!r}; choose one of {sorted(DSNET_CONFIGS)}')
        return cls(**{**DSNET_CONFIGS[name], **kwargs})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'DSNet expects (N, C, H, W) input, got shape {tuple(x.shape)}')
        x = x * self.img_range
        low = self.low_level(x)
        feats = [low]
        for block in self.blocks:
            inp = feats[0] if len(feats) == 1 else torch.cat(feats, 1)
            feats.append(block(inp))
        if not self.bottleneck_low_level:
            feats = feats[1:]
        out = self.bottleneck(torch.cat(feats, 1))
        out = self.conv_last(self.upsample(out)) / self.img_range
        if self.back_projection:
            out = back_project(out, x / self.img_range, self.back_projection, clamp=False)
        return out
