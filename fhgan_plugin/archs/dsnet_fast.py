"""Faster DSNet inference with the same outputs (to float tolerance): :func:`optimize_dsnet`.

The training module (:class:`~fhgan_plugin.archs.dsnet_arch.DSNet`) is written for clarity: every block
input is ``torch.cat`` of the low-level features and all earlier block outputs (a copy that grows with
depth), and inside a SparseBlock every layer concatenates the outputs it fetches, so the block input is
copied again for each layer that reads it (layers 1, 2, 4, … under SparseNet's exponential aggregation).
:class:`FastDSNet` computes the same function with the same weights, rearranged:

* **one trunk buffer** instead of a growing concatenation: block outputs are written into slices of a
  preallocated ``(N, C_total, H, W)`` tensor and each block reads a prefix of it;
* **one wide convolution over a block's input** for all the layers that read it, using
  ``conv(cat(a, b)) = conv_a(a) + conv_b(b)``: the large block input is read once, never copied, and the
  small per-layer remainders (a few ``growth``-channel tensors) are convolved and added;
* optional **channels-last** memory format (oneDNN's preferred layout on CPU) and, on top, optional
  ``torch.compile`` (``torch.jit`` tracing is not offered: it is deprecated, and freezing mangles the
  in-place writes into the trunk buffer).

Which of these pay depends on the machine: ``scripts/benchmark.py`` measures every variant against the
straightforward module (eval mode, ``torch.inference_mode()``, default threads) in one run and checks the
outputs agree (max abs error). The result is an inference-only module: parameters do not require grad.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from fhgan_plugin.archs.dsnet_arch import DSNet, SparseBlock
from fhgan_plugin.data.degradation import back_project


def _conv_from(weight: torch.Tensor, bias: torch.Tensor | None, padding: int) -> nn.Conv2d:
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[-1], 1, padding, bias=bias is not None)
    conv.weight.data.copy_(weight)
    if bias is not None:
        conv.bias.data.copy_(bias)
    return conv


class FastSparseBlock(nn.Module):
    """A :class:`SparseBlock` whose layers that read the block input share one wide convolution over it.

    Args:
        block: The trained block (its weights are copied, not shared).

    Shapes:
        x (N, in_ch, H, W) -> (N, block.out_channels, H, W), equal to ``block(x)`` up to float rounding.
    """

    def __init__(self, block: SparseBlock) -> None:
        super().__init__()
        self.fetch = [list(idx) for idx in block.fetch]
        self.out_index = list(block.out_index)
        convs = [layer[0] for layer in block.layers]
        self.prelus = nn.ModuleList(copy.deepcopy(layer[1]) for layer in block.layers)
        self.growth = convs[0].out_channels
        in_ch = convs[0].in_channels  # layer 1 reads exactly the block input
        chans = [in_ch] + [self.growth] * len(convs)
        self.readers = [li for li, idx in enumerate(self.fetch) if 0 in idx]
        x_weights, x_biases = [], []
        rest: list[nn.Conv2d | None] = []
        for li, (idx, conv) in enumerate(zip(self.fetch, convs)):
            starts = [sum(chans[j] for j in idx[:k]) for k in range(len(idx))]
            w = conv.weight.data
            others = [(i, s) for i, s in zip(idx, starts) if i != 0]
            if li in self.readers:
                s0 = starts[idx.index(0)]
                x_weights.append(w[:, s0:s0 + in_ch])
                x_biases.append(conv.bias.data)
                bias = None  # the bias travels with the wide convolution
            else:
                bias = conv.bias.data
            if others:
                w_rest = torch.cat([w[:, s:s + chans[i]] for i, s in others], 1)
                rest.append(_conv_from(w_rest, bias, conv.padding[0]))
            else:
                rest.append(None)
        self.rest_index = [[i for i in idx if i != 0] for idx in self.fetch]
        self.x_conv = _conv_from(torch.cat(x_weights, 0), torch.cat(x_biases, 0), convs[0].padding[0])
        self.rest = nn.ModuleList(r if r is not None else nn.Identity() for r in rest)
        self.has_rest = [r is not None for r in rest]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from_x = torch.split(self.x_conv(x), self.growth, 1)
        feats: list[torch.Tensor] = [x]
        reader = 0
        for li in range(len(self.fetch)):
            pre = None
            if li in self.readers:
                pre = from_x[reader]
                reader += 1
            if self.has_rest[li]:
                parts = [feats[i] for i in self.rest_index[li]]
                inp = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
                out = self.rest[li](inp)
                pre = out if pre is None else pre + out
            feats.append(self.prelus[li](pre))
        return torch.cat([feats[i] for i in self.out_index], 1)


class FastDSNet(nn.Module):
    """Inference-only DSNet with a preallocated trunk buffer and :class:`FastSparseBlock` blocks.

    Args:
        net: A trained :class:`DSNet` (copied; the original is left untouched).
        channels_last: Run in channels-last memory format (input converted on entry, output returned in the
            default contiguous format).

    Shapes:
        x (N, C_in, H, W) in [0, 1] -> (N, C_out, H*upscale, W*upscale), equal to ``net(x)`` up to float
        rounding.
    """

    def __init__(self, net: DSNet, channels_last: bool = False) -> None:
        super().__init__()
        if not isinstance(net, DSNet):
            raise TypeError(f'FastDSNet needs a DSNet, got {type(net).__name__}')
        net = copy.deepcopy(net).eval()
        self.img_range = net.img_range
        self.back_projection = net.back_projection
        self.bottleneck_low_level = net.bottleneck_low_level
        self.low_level = net.low_level
        self.blocks = nn.ModuleList(FastSparseBlock(b) for b in net.blocks)
        self.num_feat = net.low_level[0].out_channels
        self.block_channels = [b.out_channels for b in net.blocks]
        self.bottleneck = net.bottleneck
        self.upsample = net.upsample
        self.conv_last = net.conv_last
        self.channels_last = channels_last
        for p in self.parameters():
            p.requires_grad_(False)
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'DSNet expects (N, C, H, W) input, got shape {tuple(x.shape)}')
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        x = (x * self.img_range).contiguous(memory_format=fmt)
        low = self.low_level(x)
        n, _, h, w = low.shape
        total = self.num_feat + sum(self.block_channels)
        buf = torch.empty((n, total, h, w), dtype=low.dtype, device=low.device).contiguous(memory_format=fmt)
        buf[:, :self.num_feat] = low
        c = self.num_feat
        for block, oc in zip(self.blocks, self.block_channels):
            buf[:, c:c + oc] = block(buf[:, :c])
            c += oc
        trunk = buf if self.bottleneck_low_level else buf[:, self.num_feat:]
        out = (self.conv_last(self.upsample(self.bottleneck(trunk))) / self.img_range).contiguous()
        if self.back_projection:
            out = back_project(out, x / self.img_range, self.back_projection, clamp=False).contiguous()
        return out


def optimize_dsnet(net: DSNet, channels_last: bool = False, backend: str = 'eager') -> nn.Module:
    """An inference-only, faster module computing ``net``'s function.

    Args:
        net: Trained DSNet.
        channels_last: See :class:`FastDSNet`.
        backend: 'eager' (the rearranged module) or 'compile' (``torch.compile`` of it with dynamic shapes;
            needs a C++ compiler on CPU; compiles on the first call of each new shape family).
    """
    fast = FastDSNet(net, channels_last=channels_last)
    if backend == 'eager':
        return fast
    if backend == 'compile':
        return torch.compile(fast, dynamic=True)
    raise ValueError(f"backend must be 'eager' or 'compile', got {backend!r}")
