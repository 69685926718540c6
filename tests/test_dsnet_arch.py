"""DSNet: shapes, gradients, parameter count, registry."""
from __future__ import annotations

import pytest
import torch
from basicsr.utils.registry import ARCH_REGISTRY

from fhgan_plugin.archs import DSNET_CONFIGS, DSNet, SparseBlock
from fhgan_plugin.archs.dsnet_arch import sparse_offsets

TINY = dict(num_feat=8, num_block=2, num_layer=3, growth=4, num_bottleneck=8)


def test_sparse_offsets_are_exponential() -> None:
    assert sparse_offsets(1) == [0]
    assert sparse_offsets(2) == [1, 0]
    assert sparse_offsets(3) == [2, 1]
    assert sparse_offsets(6) == [5, 4, 2]
    assert sparse_offsets(8) == [7, 6, 4, 0]


@pytest.mark.parametrize('scale', [2, 4, 8])
@pytest.mark.parametrize('mode', ['progressive', 'single'])
def test_output_shape_square_and_non_square(scale: int, mode: str) -> None:
    net = DSNet(upscale=scale, upsample_mode=mode, **TINY)
    for h, w in [(7, 7), (6, 10)]:
        out = net(torch.rand(2, 3, h, w))
        assert out.shape == (2, 3, h * scale, w * scale)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize('block_output', ['all', 'sparse'])
@pytest.mark.parametrize('low', [True, False])
def test_every_parameter_receives_gradient(block_output: str, low: bool) -> None:
    torch.manual_seed(0)
    net = DSNet(block_output=block_output, bottleneck_low_level=low, **TINY)
    out = net(torch.rand(2, 3, 8, 8))
    out.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def _expected_paper_params(upsample_mode: str = 'progressive') -> int:
    """Parameter count of the paper configuration, written out from the structure in DEVELOPERS.md."""
    conv = lambda cin, cout, k: cin * cout * k * k + cout  # noqa: E731
    feat, blocks, layers, growth, neck = 64, 6, 6, 32, 128
    n = conv(3, feat, 3) + feat + conv(feat, feat, 3) + feat  # two extractors + PReLU slopes
    block_in = feat
    for _ in range(blocks):
        chans = [block_in] + [growth] * layers
        for layer in range(1, layers + 1):
            fetched = [layer - 2**k for k in range(layers) if 2**k <= layer]
            n += conv(sum(chans[i] for i in fetched), growth, 3) + growth
        block_in += growth * layers
    n += conv(block_in, neck, 1) + neck  # bottleneck sees low-level + all block outputs
    if upsample_mode == 'progressive':
        n += 2 * (conv(neck, neck * 4, 3) + neck)
    else:
        n += conv(neck, neck * 16, 3) + neck
    n += conv(neck, 3, 3)
    return n


def test_paper_parameter_count() -> None:
    net = DSNet.from_config('paper')
    count = sum(p.numel() for p in net.parameters())
    assert count == _expected_paper_params() == 4_809_795
    single = DSNet.from_config('paper', upsample_mode='single')
    assert sum(p.numel() for p in single.parameters()) == _expected_paper_params('single')
    assert 3.5e6 <= count <= 6e6


def test_sparse_block_channels() -> None:
    blk = SparseBlock(10, num_layer=6, growth=4, block_output='sparse')
    # a 7th layer would fetch outputs 6, 5, 3 (and the block input, excluded)
    assert blk.out_index == [6, 5, 3]
    assert blk(torch.rand(1, 10, 5, 5)).shape == (1, 12, 5, 5)
    with pytest.raises(ValueError, match='block_output'):
        SparseBlock(10, block_output='dense')


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(ValueError, match='upscale'):
        DSNet(upscale=3)
    with pytest.raises(ValueError, match='upsample_mode'):
        DSNet(upsample_mode='deconv')
    with pytest.raises(KeyError, match='paper'):
        DSNet.from_config('huge')
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        DSNet(**TINY)(torch.rand(3, 8, 8))


def test_back_projection_makes_the_output_lr_consistent_and_keeps_gradients() -> None:
    from fhgan_plugin.data.degradation import canonical_degradation
    torch.manual_seed(0)
    plain = DSNet(**TINY)
    bp = DSNet(**TINY, back_projection=5)
    bp.load_state_dict(plain.state_dict())  # no parameters of its own: checkpoints load either way
    x = torch.rand(2, 3, 12, 12)
    out = bp(x)

    def lr_error(y: torch.Tensor) -> float:
        return (canonical_degradation(y, quantize=False) - x).abs().mean().item()

    assert out.shape == (2, 3, 48, 48) and torch.isfinite(out).all()
    assert lr_error(out) < 0.1 * lr_error(plain(x))
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in bp.parameters())
    with pytest.raises(ValueError, match='back_projection'):
        DSNet(**TINY, back_projection=-1)


def test_registered_and_configs_build() -> None:
    assert ARCH_REGISTRY.get('DSNet') is DSNet
    for name, cfg in DSNET_CONFIGS.items():  # each named width is what it says, and runs 28 -> 112
        net = DSNet.from_config(name)
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs[0].out_channels == cfg['num_feat']
        assert {m.out_channels for m in convs if m.kernel_size == (1, 1)} >= {cfg['num_bottleneck']}
        assert net(torch.rand(1, 3, 28, 28)).shape == (1, 3, 112, 112)
