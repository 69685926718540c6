"""Optimised DSNet inference (same function, rearranged) and the benchmark's timing helpers and script."""
from __future__ import annotations

import json
import time

import pytest
import torch

from fhgan_plugin.archs.dsnet_arch import DSNet
from fhgan_plugin.archs.dsnet_fast import AutoDSNet, FastDSNet, fast_inference, optimize_dsnet
from fhgan_plugin.utils.benchmark import max_abs_error, time_call

TINY = dict(num_feat=8, num_block=3, num_layer=6, growth=4, num_bottleneck=8)


@pytest.mark.parametrize('extra', [{}, dict(block_output='sparse'), dict(bottleneck_low_level=False),
                                   dict(upsample_mode='single'), dict(upscale=2), dict(num_layer=5),
                                   dict(back_projection=3)])
@pytest.mark.parametrize('channels_last', [False, True])
def test_fast_dsnet_matches_training_module(extra: dict, channels_last: bool) -> None:
    torch.manual_seed(0)
    net = DSNet(**{**TINY, **extra}).eval()
    fast = optimize_dsnet(net, channels_last=channels_last)
    for shape in [(3, 3, 7, 11), (1, 3, 28, 28)]:
        x = torch.rand(*shape)
        with torch.inference_mode():
            ref, out = net(x), fast(x)
        assert out.shape == ref.shape and out.is_contiguous()
        assert torch.isfinite(out).all()
        assert (out - ref).abs().max() < 1e-5


def test_fast_dsnet_pushes_every_feature_map_once_with_one_wide_conv() -> None:
    """Push order: each source (low-level features, block outputs) has one conv feeding the reader layers (1, 2, 4
    = offsets 1, 2, 4 of index 0) of every later block; inside a block each layer output has one conv feeding the
    layers that fetch it (SparseNet offsets), and the last layer's output feeds none."""
    torch.manual_seed(0)
    net = DSNet(num_feat=8, num_block=3, num_layer=6, growth=4, num_bottleneck=8).eval()
    fast = FastDSNet(net)
    assert fast.widths == [3 * 4] * 3  # three reader layers of 4 channels per block
    assert [c.in_channels for c in fast.push] == [8, 24, 24]  # low-level, block 1, block 2 (block 3 feeds no block)
    assert [c.out_channels for c in fast.push] == [36, 24, 12]  # blocks j..3 each
    block = fast.blocks[0]
    assert block.readers == [0, 1, 3]
    # output of layer i (1-indexed) is fetched by the 0-indexed layers l with (l + 1) - i a power of two
    assert block.targets == [[1, 2, 4], [2, 3, 5], [3, 4], [4, 5], [5], []]
    assert [getattr(m, 'out_channels', 0) for m in block.push] == [12, 12, 8, 8, 4, 0]
    # every layer's bias is added exactly once: by the block-input conv for readers, else by its first contributor
    pushes = [c for c in block.push if isinstance(c, torch.nn.Conv2d)]
    biases = sum(int(c.bias.count_nonzero()) for c in pushes) + int(fast.push[0].bias[:12].count_nonzero())
    assert biases == 6 * 4
    x = torch.rand(2, 3, 9, 9)
    with torch.no_grad():
        assert (fast(x) - net(x)).abs().max() < 1e-5


def test_fast_dsnet_is_inference_only_and_leaves_the_original_alone() -> None:
    net = DSNet(**TINY)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fast = FastDSNet(net)
    assert not any(p.requires_grad for p in fast.parameters())
    assert all(p.requires_grad for p in net.parameters()) and net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(TypeError, match='needs a DSNet'):
        FastDSNet(torch.nn.Conv2d(3, 3, 3))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        fast(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="backend must be 'eager', 'auto' or 'compile'"):
        optimize_dsnet(net, backend='jit')


def test_auto_dsnet_picks_one_exact_path_per_shape_and_keeps_it() -> None:
    torch.manual_seed(0)
    net = DSNet(**TINY).eval()
    auto = fast_inference(net)
    assert isinstance(auto, AutoDSNet) and auto.upscale == net.upscale
    shapes = [(2, 3, 7, 11), (1, 3, 28, 28)]
    for shape in shapes:
        x = torch.rand(*shape)
        with torch.inference_mode():
            ref, out = net(x), auto(x)
            assert out.shape == ref.shape and out.is_contiguous() and (out - ref).abs().max() < 1e-5
            for name in auto.paths:  # both candidate paths compute the training module's function
                assert (auto._run(name, x) - ref).abs().max() < 1e-5
    assert set(auto.choice) == {(s, torch.float32, 'cpu') for s in shapes}
    assert set(auto.choice.values()) <= {'push_order', 'module'}
    first = dict(auto.choice)
    with torch.inference_mode():
        auto(torch.rand(*shapes[0]))
    assert auto.choice == first  # timed once per shape
    assert not any(p.requires_grad for p in auto.parameters())
    with pytest.raises(TypeError, match='AutoDSNet needs a DSNet'):
        AutoDSNet(torch.nn.Conv2d(3, 3, 3))


@pytest.mark.parametrize('fast', ['push_order', 'module'])
def test_auto_dsnet_keeps_the_faster_path_despite_one_slow_sample(monkeypatch, fast: str) -> None:  # noqa: ANN001
    """The choice is the lower best time over interleaved calls: the faster path (every call 50 ms quicker, a margin
    above scheduling noise on a loaded CPU) is kept even when its first timed call hits a 0.3 s stall."""
    import time
    auto = fast_inference(DSNet(**TINY).eval())
    slow = 'module' if fast == 'push_order' else 'push_order'
    calls = {fast: 0, slow: 0}
    run = auto._run

    def timed(name: str, x: torch.Tensor) -> torch.Tensor:
        calls[name] += 1
        time.sleep(0.3 if name == fast and calls[name] == 2 else (0.0 if name == fast else 0.05))
        return run(name, x)
    monkeypatch.setattr(auto, '_run', timed)
    with torch.inference_mode():
        auto(torch.rand(1, 3, 8, 8))
    assert auto.choice[((1, 3, 8, 8), torch.float32, 'cpu')] == fast
    assert calls[fast] >= 3 and calls[slow] >= 3  # warm-up + at least 2 timed rounds each


def test_time_call_respects_repeats_and_time_box() -> None:
    calls = []
    res = time_call(lambda: calls.append(1), warmup=2, repeats=4, time_box=10.0)
    assert len(calls) == 6 and res['repeats'] == 4 and res['min_s'] <= res['median_s']
    slow = time_call(lambda: time.sleep(0.03), warmup=0, repeats=50, time_box=0.05, min_repeats=2)
    assert 2 <= slow['repeats'] <= 4 and slow['min_s'] >= 0.03
    with pytest.raises(ValueError):
        time_call(lambda: None, repeats=0)


def test_max_abs_error_is_the_largest_difference() -> None:
    """One output pixel moved by 0.25, the rest by 0.01: the error is 0.25 (the max, not the mean)."""
    class Shift(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = x + 0.01
            out[0, 1, 2, 3] += 0.24
            return out

    x = torch.rand(1, 3, 5, 5)
    assert max_abs_error(torch.nn.Identity(), Shift(), x) == pytest.approx(0.25, abs=1e-6)
    assert max_abs_error(Shift(), torch.nn.Identity(), x) == pytest.approx(0.25, abs=1e-6)


def test_benchmark_script_writes_json_and_markdown(tmp_path) -> None:  # noqa: ANN001
    from scripts.benchmark import main
    out, md = tmp_path / 'bench.json', tmp_path / 'bench.md'
    res = main(['--networks', 'DSNet (cpu)', '--speed-configs', 'cpu', '--batches', '1', '2', '--train-batch', '2',
                '--lr-size', '12', '--repeats', '2', '--time-box', '0.01', '--warmup', '0', '--precision-batch', '2',
                '--sections', 'table', 'speed', 'precision', '--out', str(out), '--md', str(md)])
    saved = json.loads(out.read_text())
    assert saved['table'][0]['network'] == 'DSNet (cpu)' and saved['table'][0]['params'] == 362_179
    row = saved['table'][0]
    assert {'forward_b1', 'forward_b2', 'train_step_b2', 'achieved_gflops_per_s'} <= set(row)
    assert row['forward_b2']['repeats'] == 2 and row['forward_b2']['faces_per_s_best'] > 0
    variants = res['dsnet_speed'][0]['variants']
    assert {'straightforward', 'channels_last only', 'onnxruntime', 'rearranged', 'rearranged + channels_last',
            'auto (fast_inference)'} == \
        set(variants)
    assert all(v['max_abs_err_random'] < 1e-5 for k, v in variants.items() if k != 'straightforward')
    peak = saved['conv_peak']['gflops_per_s_best']
    gmacs = res['dsnet_speed'][0]['gmacs_per_face']
    for v in variants.values():  # fraction of the conv peak = achieved FLOP/s at the largest batch / peak
        f2 = v['forward_b2']
        assert f2['fraction_of_conv_peak'] == pytest.approx(2 * gmacs * 2 / f2['min_s'] / peak)
    assert variants['rearranged']['forward_b2']['speedup_median'] > 0
    assert '| DSNet (cpu) | 362,179 |' in md.read_text()
    prec = saved['training_precision'][0]
    assert prec['dsnet_config'] == 'cpu' and prec['batch'] == 2
    assert set(prec['variants']) == {'float32', 'bfloat16', 'bfloat16 + channels_last'}
    assert prec['variants']['float32']['speedup_median'] == 1.0
    assert all(v['median_s'] > 0 and v['speedup_median'] > 0 for v in prec['variants'].values())
    assert '| cpu b2 | bfloat16 + channels_last |' in md.read_text()
    assert saved['machine']['cpu_capability']
    only = main(['--sections', 'precision', '--speed-configs', 'cpu', '--lr-size', '12', '--repeats', '2',
                 '--time-box', '0.01', '--warmup', '0', '--precision-batch', '2', '--md', str(md)])
    assert set(only) == {'machine', 'settings', 'training_precision', 'load_average_end'}
    assert '| cpu b2 | float32 |' in md.read_text() and 'conv peak' not in md.read_text()


def test_benchmark_markdown_has_the_training_profile_and_evaluation_rows() -> None:
    """The training-profile row names the options file, precision and joint / parts ratio; the evaluation line gives
    the command and its wall time (values from a hand-made result, not a measurement)."""
    from scripts.benchmark import markdown
    part = {'median_s': 0.5, 'min_s': 0.5}
    result = {'machine': {'cpu': 'x', 'logical_cpus': 2, 'torch': 't', 'torch_threads': 2},
              'settings': {'batches': [1, 64], 'train_batch': 8},
              'training_profile': [{'options': 'options/train/FHGAN/train_FHGAN_x4_cpu.yml',
                                    'autocast': 'torch.bfloat16',
                                    'channels_last': True, 'batch': 16, 'joint_iteration': {'median_s': 1.1},
                                    'sum_of_parts_median_s': 1.0, 'ratio_joint_to_parts': 1.1,
                                    'parts': {'VGG': part, 'FR': {'median_s': 0.3}, 'G': {'median_s': 0.2}}}],
              'evaluation': [{'command': 'python scripts/evaluate.py --method X', 'lpips_images': 500, 'wall_s': 99.5,
                              'rows': [{'method': 'X', 'psnr': 31.1234, 'ssim': 0.89, 'lpips': 0.14, 'acc': 96.9,
                                        'acc_std': 0.6, 'seconds': 90.0}]}]}
    md = markdown(result)
    assert '| train_FHGAN_x4_cpu.yml | torch.bfloat16 + channels_last | 16 | 1.100 | 1.000 | 1.10 | VGG 0.500; ' \
           'FR 0.300; G 0.200 |' in md
    assert 'LPIPS on 500 faces' in md and '**99.5 s**' in md and 'PSNR 31.12 dB' in md
