"""Faster DSNet inference with the same outputs (to float tolerance): :func:`optimize_dsnet`.

The training module (:class:`~fhgan_plugin.archs.dsnet_arch.DSNet`) is written for clarity: every block input is
``torch.cat`` of the low-level features and all earlier block outputs (a copy that grows with depth), and inside a
SparseBlock every layer concatenates the outputs it fetches (layers 1, 2, 4, … under SparseNet's exponential
aggregation). :class:`FastDSNet` computes the same function with the same weights, in a *push* order, using
``conv(cat(a, b)) = conv_a(a) + conv_b(b)``:

* as soon as a feature map exists (the low-level features, a block's output, a layer's output inside a block),
  **one wide convolution** computes its contributions to every later layer that reads it, and those are added into
  the readers' pre-activations. Nothing is ever concatenated to be read, so no convolution reads a strided channel
  slice (which oneDNN would first copy, worst in channels-last), and the convolutions are wide (many output
  channels), which is what a CPU GEMM needs;
* each bias travels with the first contribution to its layer;
* the sub-pixel upsampler, in channels-last, shuffles with one copy of contiguous channel runs (the conv's output
  channels pre-permuted) instead of ``nn.PixelShuffle``'s element-wise gather;
* optional **channels-last** memory format (oneDNN's preferred layout on CPU) and, on top, optional
  ``torch.compile`` (``torch.jit`` tracing is not offered: it is deprecated).

``scripts/benchmark.py`` measures it against the straightforward module (eval mode, ``torch.inference_mode()``,
default threads) and ONNX Runtime in one run and checks the outputs agree (max abs error). The result is an
inference-only module: parameters do not require grad.
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


def _fetch_slices(block: SparseBlock, in_ch: int) -> list[dict[int, tuple[int, int]]]:
    """Per layer: {fetched index: (start, width)} of its conv's input channels (index 0 = block input)."""
    growth = block.layers[0][0].out_channels
    chans = [in_ch] + [growth] * len(block.layers)
    out = []
    for idx in block.fetch:
        starts, s = {}, 0
        for i in idx:
            starts[i] = (s, chans[i])
            s += chans[i]
        out.append(starts)
    return out


class PushSparseBlock(nn.Module):
    """A :class:`SparseBlock` that takes its input layers' pre-activations (computed by the caller, see
    :class:`FastDSNet`) and pushes each layer output into its readers with one convolution.

    Args:
        block: The trained block (its weights are copied, not shared).
        in_ch: Channels of the block input.
        memory_format: Layout the layer outputs are kept in (the convolutions' input layout).

    Shapes:
        x_pre (N, growth * len(readers), H, W): the block input's contributions (with biases) to the layers that
        read the block input, in layer order -> (N, block.out_channels, H, W).
    """

    def __init__(self, block: SparseBlock, in_ch: int, memory_format: torch.memory_format = torch.contiguous_format
                 ) -> None:
        super().__init__()
        self.memory_format = memory_format
        convs = [layer[0] for layer in block.layers]
        self.prelus = nn.ModuleList(copy.deepcopy(layer[1]) for layer in block.layers)
        self.growth = convs[0].out_channels
        self.out_index = list(block.out_index)
        slices = _fetch_slices(block, in_ch)
        self.readers = [li for li, idx in enumerate(block.fetch) if 0 in idx]
        n = len(convs)
        self.targets: list[list[int]] = []
        push: list[nn.Module] = []
        has_bias = set(self.readers)  # reader layers get their bias from the block-input contribution
        for i in range(1, n + 1):  # layer output i (1-indexed) -> the later layers that fetch it
            tgts = [li for li in range(n) if i in slices[li]]
            self.targets.append(tgts)
            if not tgts:
                push.append(nn.Identity())
                continue
            w = torch.cat([convs[li].weight.data[:, slices[li][i][0]:slices[li][i][0] + self.growth] for li in tgts])
            b = torch.cat([convs[li].bias.data if li not in has_bias else torch.zeros(self.growth) for li in tgts])
            has_bias.update(tgts)
            push.append(_conv_from(w, b, convs[0].padding[0]))
        self.push = nn.ModuleList(push)

    def forward(self, x_pre: torch.Tensor) -> torch.Tensor:
        g = self.growth
        pre: list[torch.Tensor | None] = [None] * len(self.prelus)
        for r, li in enumerate(self.readers):
            pre[li] = x_pre[:, r * g:(r + 1) * g]
        outs = []
        for li, prelu in enumerate(self.prelus):
            o = prelu(pre[li]).contiguous(memory_format=self.memory_format)
            outs.append(o)
            if self.targets[li]:
                for tgt, part in zip(self.targets[li], self.push[li](o).split(g, 1)):
                    pre[tgt] = part if pre[tgt] is None else pre[tgt] + part
        return torch.cat([outs[i - 1] for i in self.out_index], 1)


class ShuffleUp(nn.Module):
    """conv3x3 + PixelShuffle(s) + PReLU, the shuffle done as one copy of contiguous channel runs in channels-last
    (the conv's output channels permuted from PyTorch's (c, dy, dx) order to (dy, dx, c))."""

    def __init__(self, conv: nn.Conv2d, shuffle: nn.PixelShuffle, prelu: nn.PReLU) -> None:
        super().__init__()
        s = shuffle.upscale_factor
        c = conv.out_channels // (s * s)
        perm = torch.arange(c * s * s).view(c, s, s).permute(1, 2, 0).reshape(-1)
        self.conv = _conv_from(conv.weight.data[perm], conv.bias.data[perm] if conv.bias is not None else None,
                               conv.padding[0])
        self.scale, self.channels = s, c
        self.prelu = copy.deepcopy(prelu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        n, _, h, w = y.shape
        s, c = self.scale, self.channels
        y = y.permute(0, 2, 3, 1)  # (N, H, W, s*s*C): contiguous in channels-last, a copy otherwise
        y = y.reshape(n, h, w, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h * s, w * s, c)
        return self.prelu(y.permute(0, 3, 1, 2))


class FastDSNet(nn.Module):
    """Inference-only DSNet in push order (see module docstring).

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
        num_feat = net.low_level[0].out_channels
        # sources: low-level features, then each block's output; block k reads sources 0..k
        src_ch = [num_feat] + [b.out_channels for b in net.blocks]
        blocks, widths, x_w, x_b = [], [], [], []
        in_ch = num_feat
        for block in net.blocks:
            slices = _fetch_slices(block, in_ch)
            readers = [li for li, idx in enumerate(block.fetch) if 0 in idx]
            convs = [block.layers[li][0] for li in readers]
            x_w.append(torch.cat([c.weight.data[:, slices[li][0][0]:slices[li][0][0] + in_ch]
                                  for li, c in zip(readers, convs)]))
            x_b.append(torch.cat([c.bias.data for c in convs]))
            widths.append(x_w[-1].shape[0])
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            blocks.append(PushSparseBlock(block, in_ch, fmt))
            in_ch += block.out_channels
        self.blocks = nn.ModuleList(blocks)
        self.widths = widths
        pad = net.blocks[0].layers[0][0].padding[0]
        push = []
        for j in range(len(net.blocks)):  # source j -> blocks j, j+1, …
            lo = sum(src_ch[:j])
            w = torch.cat([x_w[k][:, lo:lo + src_ch[j]] for k in range(j, len(net.blocks))])
            b = torch.cat([x_b[k] if j == 0 else torch.zeros(widths[k]) for k in range(j, len(net.blocks))])
            push.append(_conv_from(w, b, pad))
        self.push = nn.ModuleList(push)
        self.bottleneck = net.bottleneck
        self.channels_last = channels_last
        ups: list[nn.Module] = []
        mods = list(net.upsample)
        for i in range(0, len(mods), 3):
            conv, shuffle, prelu = mods[i:i + 3]
            ups.append(ShuffleUp(conv, shuffle, prelu) if channels_last else nn.Sequential(conv, shuffle, prelu))
        self.upsample = nn.Sequential(*ups)
        self.conv_last = net.conv_last
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
        feats = [self.low_level(x)]
        x_pre: list[torch.Tensor | None] = [None] * len(self.blocks)
        for j, block in enumerate(self.blocks):
            parts = self.push[j](feats[j]).split(self.widths[j:], 1)
            for k, part in zip(range(j, len(self.blocks)), parts):
                x_pre[k] = part if x_pre[k] is None else x_pre[k] + part
            feats.append(block(x_pre[j].contiguous(memory_format=fmt)))
            x_pre[j] = None
        trunk = torch.cat(feats if self.bottleneck_low_level else feats[1:], 1)
        out = self.upsample(self.bottleneck(trunk)).contiguous(memory_format=fmt)
        out = (self.conv_last(out) / self.img_range).contiguous()
        if self.back_projection:
            out = back_project(out, x / self.img_range, self.back_projection, clamp=False).contiguous()
        return out


class AutoDSNet(nn.Module):
    """The faster of DSNet's two exact CPU inference paths for each input shape, picked by timing both once here.

    Which path wins depends on the width and the machine (``scripts/benchmark.py``, docs/benchmarks.md: on one AMD
    Zen 5 the push-order :class:`FastDSNet` won for the ``cpu`` width at batch 64 and lost to the plain module in
    channels-last for the paper width), so the first call of each (shape, dtype, device) times both and keeps the
    faster. Both compute ``net``'s function to float rounding (max abs error ~1e-7).

    Args:
        net: A trained :class:`DSNet` (copied).

    Shapes:
        x (N, C_in, H, W) in [0, 1] -> (N, C_out, H*upscale, W*upscale).
    """

    def __init__(self, net: DSNet) -> None:
        super().__init__()
        if not isinstance(net, DSNet):
            raise TypeError(f'AutoDSNet needs a DSNet, got {type(net).__name__}')
        module = copy.deepcopy(net).eval().to(memory_format=torch.channels_last)
        for p in module.parameters():
            p.requires_grad_(False)
        self.paths = nn.ModuleDict({'push_order': FastDSNet(net, channels_last=True), 'module': module})
        self.upscale = net.upscale
        #: ``{(shape, dtype, device type): path name}`` chosen so far.
        self.choice: dict[tuple, str] = {}
        self.eval()

    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name == 'module':
            return self.paths['module'](x.contiguous(memory_format=torch.channels_last)).contiguous()
        return self.paths[name](x)

    def _pick(self, x: torch.Tensor) -> str:
        """The path with the lower best time over interleaved timed calls (after one warm-up call each): at least
        2 and up to 3 rounds, ending once 1 s of timed calls is spent, so that a slow moment of a shared machine
        does not decide on one sample (a single call each once kept the slower path at the paper width)."""
        import time
        for name in self.paths:
            self._run(name, x)  # warm-up (oneDNN primitive creation)
        times: dict[str, list[float]] = {name: [] for name in self.paths}
        for round_ in range(3):
            for name in self.paths:
                t = time.perf_counter()
                self._run(name, x)
                times[name].append(time.perf_counter() - t)
            if round_ >= 1 and sum(map(sum, times.values())) > 1.0:
                break
        return min(times, key=lambda name: min(times[name]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'DSNet expects (N, C, H, W) input, got shape {tuple(x.shape)}')
        key = (tuple(x.shape), x.dtype, x.device.type)
        if key not in self.choice:
            with torch.no_grad():
                self.choice[key] = self._pick(x)
        return self._run(self.choice[key], x)


#: The optimised-inference settings used by ``fhgan-hallucinate`` and ``scripts/evaluate.py`` through
#: :func:`fast_inference`: the fastest exact path per shape (:class:`AutoDSNet`; docs/benchmarks.md).
FAST_DSNET_SETTINGS: dict[str, object] = {'channels_last': True, 'backend': 'auto'}


def fast_inference(net: nn.Module) -> nn.Module:
    """``net`` rearranged for inference with :data:`FAST_DSNET_SETTINGS` if it is a DSNet, else ``net`` itself."""
    return optimize_dsnet(net, **FAST_DSNET_SETTINGS) if isinstance(net, DSNet) else net


def optimize_dsnet(net: DSNet, channels_last: bool = False, backend: str = 'eager') -> nn.Module:
    """An inference-only, faster module computing ``net``'s function.

    Args:
        net: Trained DSNet.
        channels_last: See :class:`FastDSNet`.
        backend: 'eager' (the rearranged module), 'auto' (:class:`AutoDSNet`: per input shape the faster of the
            channels-last push-order module and the channels-last training module, timed on first use;
            ``channels_last`` is implied) or 'compile' (``torch.compile`` of the rearranged module with dynamic
            shapes; needs a C++ compiler on CPU; compiles on the first call of each new shape family).
    """
    if backend == 'auto':
        return AutoDSNet(net)
    fast = FastDSNet(net, channels_last=channels_last)
    if backend == 'eager':
        return fast
    if backend == 'compile':
        return torch.compile(fast, dynamic=True)
    raise ValueError(f"backend must be 'eager', 'auto' or 'compile', got {backend!r}")
