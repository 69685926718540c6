"""The evaluation suite: ROC / TAR@FAR / AUC, method resolution and its errors, the cache, the CLI outputs."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from fhgan_plugin.archs import DSNet
from fhgan_plugin.data.pairs import Pair, parse_lfw_pairs
from fhgan_plugin.evaluation.cli import main as evaluate_main
from fhgan_plugin.evaluation.methods import Method, MethodError, parse_method
from fhgan_plugin.evaluation.runner import Evaluator, balanced_subset, load_test_set
from fhgan_plugin.metrics.verification import kfold_verification, roc_auc, roc_curve, tar_at_far
from fhgan_plugin.utils.checkpoint import CheckpointMismatchError
from fhgan_plugin.utils.metrics import psnr_ssim_batch
from fhgan_plugin.utils.upsample import pil_upsample
from tests.conftest import write_faces

TINY = dict(num_feat=8, num_block=2, num_layer=3, growth=4, num_bottleneck=8, upscale=4)
TINY_SPEC = 'DSNet(num_feat=8,num_block=2,num_layer=3,growth=4,num_bottleneck=8)'


def test_roc_auc_tar_by_hand() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    same = np.array([True, False, True, False])
    # genuine/impostor orderings: (0.9>0.8) (0.9>0.1) (0.7<0.8) (0.7>0.1) -> 3 of 4
    assert roc_auc(scores, same) == pytest.approx(0.75)
    assert tar_at_far(scores, same, 0.0) == pytest.approx(0.5)  # only 0.9 is above every impostor
    assert tar_at_far(scores, same, 0.5) == pytest.approx(1.0)
    far, tar, th = roc_curve(scores, same)
    assert (far[0], tar[0]) == (0.0, 0.0) and (far[-1], tar[-1]) == (1.0, 1.0)
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(tar) >= 0) and np.all(np.diff(th) < 0)


def test_perfectly_separated_scores() -> None:
    rng = np.random.default_rng(0)
    same = np.arange(600) % 2 == 0
    scores = np.where(same, rng.uniform(0.6, 1.0, 600), rng.uniform(-1.0, 0.5, 600))
    assert roc_auc(scores, same) == 1.0
    assert tar_at_far(scores, same, 1e-3) == 1.0
    assert kfold_verification(scores, same).accuracy == 1.0
    assert roc_auc(-scores, same) == 0.0
    with pytest.raises(ValueError, match='both genuine and impostor'):
        roc_curve(scores[same], same[same])


def test_gap_closed_by_hand() -> None:
    from fhgan_plugin.evaluation.report import add_gap_closed, markdown_table
    methods = [parse_method(m) for m in ('bicubic', 'hr', 'bilinear')]
    rows = [{'method': 'bic', 'acc': 96.0, 'acc_std': 1.0, 'acc@x': 90.0, 'acc_std@x': 1.0},
            {'method': 'hr', 'acc': 99.0, 'acc_std': 1.0, 'acc@x': 90.0, 'acc_std@x': 1.0},
            {'method': 'sr', 'acc': 97.5, 'acc_std': 1.0, 'acc@x': 91.0, 'acc_std@x': 1.0}]
    assert add_gap_closed(rows, methods) is None
    assert [r['gap'] for r in rows] == [0.0, 1.0, 0.5]
    assert not any('gap@x' in r for r in rows)  # HR no better than bicubic with FR x: no ratio
    assert '| sr | 97.50 ± 1.00 | 91.00 ± 1.00 | 50 % |' in markdown_table(rows)
    assert 'bicubic and an hr' in add_gap_closed(rows[1:], methods[1:])
    # a back-projected bicubic listed after the plain one is a method, never the reference
    methods.append(parse_method('bicubic(back_projection=5)'))
    rows = [{k: v for k, v in r.items() if not k.startswith('gap')} for r in rows]
    rows.append({'method': 'bic+bp', 'acc': 96.75, 'acc_std': 1.0})
    assert add_gap_closed(rows, methods) is None
    assert [r['gap'] for r in rows] == [0.0, 1.0, 0.5, 0.25]


def test_figure_wraps_long_method_labels(tmp_path) -> None:  # noqa: ANN001
    from PIL import Image

    from fhgan_plugin.evaluation.report import figure_grid
    hr, lq = torch.zeros(1, 3, 112, 112, dtype=torch.uint8), torch.zeros(1, 3, 28, 28, dtype=torch.uint8)
    short = figure_grid([parse_method('bicubic')], hr, lq, str(tmp_path / 'a.png'))
    torch.save({'params': DSNet.from_config('cpu').state_dict()}, tmp_path / 'g.pth')
    net = parse_method(f'FH-GAN w/o identity loss=DSNet(config=cpu)@{tmp_path / "g.pth"}')
    net.load(torch.device('cpu'))
    long = figure_grid([parse_method('bicubic'), net], hr, lq, str(tmp_path / 'b.png'))
    (w1, h1), (w2, h2) = Image.open(short).size, Image.open(long).size
    assert (w1, w2) == (3 * 112, 4 * 112) and h2 == h1 + 12  # one more header line, nothing cut


def test_figure_label_wrapping_keeps_every_character() -> None:
    from fhgan_plugin.evaluation.report import label_font, wrap_label
    font = label_font()
    label = 'FH-GAN (shipped fhgan-x4-cpu: λ4 250 seed 0 + BP5, float16) with a_very_long_unbreakable_run_name_here'
    lines = wrap_label(label, font, 106)
    assert len(lines) > 3 and all(font.getlength(line) <= 106 for line in lines)  # no 3-line cut any more
    assert ''.join(lines).replace(' ', '') == label.replace(' ', '')
    assert wrap_label('', font, 106) == ['']
    pytest.importorskip('matplotlib')
    assert 'DejaVu' in font.getname()[0]  # a font with Greek letters (λ), not PIL's Latin-only default


def test_figure_shows_each_pair_image_once() -> None:
    from fhgan_plugin.data.pairs import Pair
    from fhgan_plugin.evaluation.cli import figure_images
    pairs = [Pair('a/1', 'a/2', True, 0), Pair('b/1', 'c/1', False, 0), Pair('b/1', 'd/1', False, 0)]
    # pairs 1 and 2 share b/1 (LFW's default picks 300, 301 do): one row each, in order; index 7 is dropped
    assert figure_images(pairs, [0, 1, 2, 7]) == ['a/1', 'a/2', 'b/1', 'c/1', 'd/1']


def test_psnr_ssim_against_hand_computed_values() -> None:
    """PSNR on the uint8 grid: one grey level off everywhere is 20·log10(255) = 48.13 dB; 4 levels off on a
    quarter of the pixels is 10·log10(255² / 4) = 42.11 dB; identical images give inf and SSIM 1."""
    x = torch.full((2, 3, 16, 16), 100 / 255)
    y = x.clone()
    y[0] += 1 / 255
    y[1, :, :8, :8] += 4 / 255
    p, s = psnr_ssim_batch(y, x)
    assert p == pytest.approx([20 * math.log10(255), 10 * math.log10(255 ** 2 / 4)], abs=1e-3)
    assert all(v < 1 for v in s)
    p, s = psnr_ssim_batch(x, x)
    assert p == [float('inf')] * 2 and s == pytest.approx([1.0, 1.0])


def test_unknown_method_lists_the_choices() -> None:
    with pytest.raises(MethodError) as err:
        parse_method('bicubik')
    msg = str(err.value)
    assert "'bicubik'" in msg and 'bilinear' in msg and 'hr' in msg and 'DSNet' in msg and 'MSRResNet' in msg
    with pytest.raises(MethodError, match=r"arch 'NoSuchNet' is not in BasicSR's ARCH_REGISTRY.*RRDBNet"):
        parse_method('x=NoSuchNet@whatever.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        parse_method('x=DSNet@nope.pth')
    assert parse_method('bicubic').label == 'FR-Bicubic' and parse_method('HR').kind == 'hr'


def _save_dsnet(path: str, seed: int) -> None:
    torch.manual_seed(seed)
    torch.save({'params': DSNet(**TINY).state_dict()}, path)


def test_checkpoint_of_the_wrong_arch_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    ckpt = str(tmp_path / 'net_g.pth')
    _save_dsnet(ckpt, 0)
    method = parse_method(f'wrong=MSRResNet(upscale=4)@{ckpt}')
    with pytest.raises(CheckpointMismatchError, match=r"method 'wrong': the checkpoint is not a MSRResNet"):
        method.load(torch.device('cpu'))
    parse_method(f'right={TINY_SPEC}@{ckpt}').load(torch.device('cpu'))


def _plain_and_test_time(tmp_path, option: str) -> tuple[Method, Method]:  # noqa: ANN001
    """A tiny DSNet as a method, without and with a test-time option (``key=value``), both loaded."""
    ckpt = str(tmp_path / 'net_g.pth')
    _save_dsnet(ckpt, 0)
    plain = parse_method(f'plain={TINY_SPEC}@{ckpt}')
    other = parse_method(f'other={TINY_SPEC[:-1]},{option})@{ckpt}')
    assert plain.cache_key() != other.cache_key()
    for m in (plain, other):
        m.load(torch.device('cpu'))  # the arch is built without the test-time option
    return plain, other


def test_flip_ensemble_averages_the_mirrored_output(tmp_path) -> None:  # noqa: ANN001
    plain, ens = _plain_and_test_time(tmp_path, 'flip_ensemble=true')
    lq = torch.rand(2, 3, 28, 28)
    gt = torch.zeros(2, 3, 112, 112)
    with torch.no_grad():
        expected = 0.5 * (plain.net(lq) + plain.net(lq.flip(-1)).flip(-1))
    expected = (expected.clamp(0, 1) * 255).round() / 255
    assert torch.equal(ens.super_resolve(lq, gt), expected)
    assert not torch.equal(ens.super_resolve(lq, gt), plain.super_resolve(lq, gt))
    # a mirrored face gives the mirrored output: the ensemble is exactly flip-equivariant
    assert torch.equal(ens.super_resolve(lq.flip(-1), gt), ens.super_resolve(lq, gt).flip(-1))


def test_back_projection_method_is_consistent_with_its_input(tmp_path) -> None:  # noqa: ANN001
    from fhgan_plugin.data.degradation import canonical_degradation
    plain, bp = _plain_and_test_time(tmp_path, 'back_projection=5')
    lq = (torch.rand(2, 3, 28, 28) * 255).round() / 255
    gt = torch.zeros(2, 3, 112, 112)

    def lr_error(sr: torch.Tensor) -> float:
        return (canonical_degradation(sr, quantize=False) - lq).abs().mean().item() * 255

    assert lr_error(bp.super_resolve(lq, gt)) < 0.25 * lr_error(plain.super_resolve(lq, gt))


def test_back_projected_baseline() -> None:
    from fhgan_plugin.data.degradation import canonical_degradation
    plain, bp = parse_method('bicubic'), parse_method('bicubic(back_projection=5)')
    assert bp.label == 'FR-Bicubic + BP5' and bp.kind == 'interp' and plain.cache_key() != bp.cache_key()
    torch.manual_seed(0)
    lq = (canonical_degradation(torch.rand(2, 3, 112, 112)) * 255).round() / 255
    gt = torch.zeros(2, 3, 112, 112)

    def lr_error(sr: torch.Tensor) -> float:
        return (canonical_degradation(sr, quantize=False) - lq).abs().mean().item() * 255

    out = bp.super_resolve(lq, gt)
    assert torch.equal(out, (out * 255).round() / 255)  # uint8 values, like every method
    assert lr_error(out) < 0.5 * lr_error(plain.super_resolve(lq, gt))


def test_dsnet_named_config_and_test_options_file(tmp_path) -> None:  # noqa: ANN001
    ckpt = str(tmp_path / 'cpu.pth')
    torch.save({'params': DSNet.from_config('cpu').state_dict()}, ckpt)
    m = parse_method(f'DSNet-cpu=DSNet(config=cpu)@{ckpt}')
    m.load(torch.device('cpu'))
    assert sum(p.numel() for p in m.net.parameters()) == 362179
    opt = tmp_path / 'test_x.yml'
    opt.write_text(f'name: MyDSNet\nnetwork_g: {{type: DSNet, config: cpu}}\npath: {{pretrain_network_g: {ckpt}}}\n')
    m2 = parse_method(str(opt))
    assert m2.label == 'MyDSNet' and m2.checkpoint == ckpt


def test_cache_is_reused_and_invalidated_by_a_new_checkpoint(tmp_path) -> None:  # noqa: ANN001
    write_faces(str(tmp_path / 'faces'), 6, size=32)
    ts = load_test_set(str(tmp_path / 'faces'))
    ckpt = str(tmp_path / 'net_g.pth')
    _save_dsnet(ckpt, 0)
    ev = Evaluator(cache_dir=str(tmp_path / 'cache'), batch_size=4)
    first = ev.run_method(parse_method(f'tiny={TINY_SPEC}@{ckpt}'), ts)
    again = ev.run_method(parse_method(f'tiny={TINY_SPEC}@{ckpt}'), ts)
    assert not first.cached and again.cached
    assert np.array_equal(first.psnr, again.psnr) and len(first.psnr) == 6
    _save_dsnet(ckpt, 1)  # re-trained: same path, other weights
    changed = ev.run_method(parse_method(f'tiny={TINY_SPEC}@{ckpt}'), ts)
    assert not changed.cached and not np.array_equal(first.psnr, changed.psnr)
    files = sorted(os.listdir(tmp_path / 'cache'))
    assert len([f for f in files if '-sr-' not in f]) == 2 and len([f for f in files if '-sr-' in f]) == 2


def test_extra_fr_reuses_the_cached_sr_faces(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """An FR network added to an evaluation later runs on the SR faces cached on disk: no SR forward pass."""
    from fhgan_plugin.evaluation.methods import Method
    write_faces(str(tmp_path / 'faces'), 6, size=32)
    ts = load_test_set(str(tmp_path / 'faces'))
    ckpt = str(tmp_path / 'net_g.pth')
    _save_dsnet(ckpt, 0)
    ev = Evaluator(cache_dir=str(tmp_path / 'cache'), batch_size=4)
    m = parse_method(f'tiny={TINY_SPEC}@{ckpt}')
    ev.run_method(m, ts)
    sr = ev.sr_faces(m, ts)
    assert sr.dtype == torch.uint8 and sr.shape == (6, 3, 32, 32)
    fr = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 8))
    expected = torch.nn.functional.normalize(fr(sr.float() / 255), dim=1)

    def no_sr(*args, **kwargs):  # noqa: ANN002,ANN003,ANN202
        raise AssertionError('SR recomputed although cached')
    monkeypatch.setattr(Method, 'super_resolve', no_sr)
    fresh = Evaluator(cache_dir=str(tmp_path / 'cache'), batch_size=4)  # new process: nothing in memory
    emb = fresh.extra_embeddings(parse_method(f'tiny={TINY_SPEC}@{ckpt}'), ts, fr, 'linear')
    assert torch.allclose(emb, expected, atol=1e-6)


def test_balanced_subset_keeps_every_fold_and_class() -> None:
    pairs = [Pair(f'a{i}', f'b{i}', (i // 3) % 2 == 0, i // 6) for i in range(60)]  # 10 folds x (3 same, 3 diff)
    sub = balanced_subset(pairs, 20)
    assert len(sub) == 20 and {p.fold for p in sub} == set(range(10))
    assert sum(p.issame for p in sub) == 10
    assert sub == [p for p in pairs if p in sub]  # protocol order


def test_cli_on_a_plain_folder(tmp_path) -> None:  # noqa: ANN001
    write_faces(str(tmp_path / 'faces'), 5, size=32)
    ckpt = str(tmp_path / 'net_g.pth')
    _save_dsnet(ckpt, 0)
    out = str(tmp_path / 'out')
    common = ['--root', str(tmp_path / 'faces'), '--pairs-file', 'none', '--lpips-vgg', 'none', '--out', out]
    summary = evaluate_main(common + ['--method', 'bicubic', '--method', 'hr'])
    rows = {r['method']: r for r in summary['rows']}
    ts = load_test_set(str(tmp_path / 'faces'))
    gt, lq = ts.hr.float() / 255, ts.lq.float() / 255
    expected = np.mean(psnr_ssim_batch(pil_upsample(lq, 4, 'bicubic'), gt)[0])
    assert rows['FR-Bicubic']['psnr'] == pytest.approx(expected)
    assert rows['FR-HR images']['psnr'] is None and 'acc' not in rows['FR-Bicubic']
    for name in ('results.md', 'results.csv', 'results.json', 'figure.png'):
        assert os.path.isfile(os.path.join(out, name)), name
    assert '| FR-Bicubic |' in open(os.path.join(out, 'results.md')).read()
    summary2 = evaluate_main(common + ['--method', 'bicubic', '--method', f'tiny={TINY_SPEC}@{ckpt}'])
    cached = {r['method']: r['cached'] for r in summary2['rows']}
    assert cached == {'FR-Bicubic': True, 'tiny': False}
    with pytest.raises(SystemExit, match='unknown method'):
        evaluate_main(common + ['--method', 'bicubik'])
    assert torch.is_grad_enabled(), 'evaluate must not switch autograd off for its caller'


@pytest.mark.shared
@pytest.mark.slow
def test_cli_on_real_lfw_pairs(shared: str, tmp_path) -> None:  # noqa: ANN001
    """A balanced 20-pair LFW subset, aligned here with RetinaFace, through FR, LPIPS, ROC and the figure."""
    from fhgan_plugin.data.prepare import AlignConfig, align_images
    lfw = os.path.join(shared, 'data', 'lfw')
    pairs = balanced_subset(parse_lfw_pairs(os.path.join(lfw, 'pairs.txt')), 20)
    pairs_file = tmp_path / 'pairs.txt'
    lines = ['10\t1']
    for p in pairs:
        (n1, i1), (n2, i2) = [(os.path.dirname(x), int(os.path.basename(x)[-8:-4])) for x in (p.path1, p.path2)]
        lines.append(f'{n1}\t{i1}\t{i2}' if p.issame else f'{n1}\t{i1}\t{n2}\t{i2}')
    pairs_file.write_text('\n'.join(lines) + '\n')
    rels = sorted({p.path1 for p in pairs} | {p.path2 for p in pairs})
    aligned = str(tmp_path / 'aligned')
    align_images(rels, os.path.join(lfw, 'images_deepfunneled'), aligned,
                 AlignConfig(os.path.join(shared, 'models', 'facexlib')))
    out = str(tmp_path / 'out')
    summary = evaluate_main(['--root', aligned, '--pairs-file', str(pairs_file), '--method', 'bilinear',
                             '--method', 'bicubic', '--method', 'hr', '--lpips-images', 'all', '--out', out,
                             '--figure-pairs', '0,1', '--extra-fr', 'again=mobilefacenet'])
    rows = {r['method']: r for r in summary['rows']}
    for r in rows.values():  # the same FR as an extra FR reproduces the main column exactly
        assert r['acc@again'] == pytest.approx(r['acc']) and r['acc_std@again'] == pytest.approx(r['acc_std'])
        assert len(r['acc_folds']) == 10 and np.mean(r['acc_folds']) == pytest.approx(r['acc'])
        assert np.std(r['acc_folds']) == pytest.approx(r['acc_std']) and r['acc_folds@again'] == r['acc_folds']
    assert 'acc_folds' not in open(os.path.join(out, 'results.csv')).readline()  # lists: results.json only
    assert 'Verif. acc. (%), FR again' in open(os.path.join(out, 'results.md')).read()
    assert summary['pairs'] == 20 and summary['images'] == len(rels)
    bil, bic, hr = rows['FR-Bilinear'], rows['FR-Bicubic'], rows['FR-HR images']
    assert 20 < bil['psnr'] < bic['psnr'] < 40
    assert 0 < bic['lpips'] < bil['lpips'] < 1  # bicubic is sharper
    assert hr['acc'] >= 90 and 0.9 <= hr['auc'] <= 1
    for r in rows.values():
        assert 0 <= r['tar_at_far'] <= 100 and np.isfinite(r['acc'])
    assert os.path.getsize(os.path.join(out, 'roc.png')) > 1000
    assert json.load(open(os.path.join(out, 'results.json')))['rows'][2]['method'] == 'FR-HR images'


def test_benchmark_test_options_run_basicsr_test_pipeline(tmp_path) -> None:  # noqa: ANN001
    """options/test/test_DSNet_benchmark.yml on a Set5-style GT / LQ folder pair through fhgan_plugin/test.py."""
    import re
    import subprocess
    import sys

    import cv2
    import yaml

    from fhgan_plugin.data.degradation import canonical_degradation
    from tests.conftest import REPO
    rels = write_faces(str(tmp_path / 'GT'), 3, size=32)
    os.makedirs(tmp_path / 'LRx4')
    for rel in rels:
        hr = torch.from_numpy(cv2.imread(str(tmp_path / 'GT' / rel))).permute(2, 0, 1).float() / 255
        lq = (canonical_degradation(hr) * 255).round().byte().permute(1, 2, 0).numpy()
        cv2.imwrite(str(tmp_path / 'LRx4' / os.path.basename(rel)), lq)
        os.replace(tmp_path / 'GT' / rel, tmp_path / 'GT' / os.path.basename(rel))
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'net_g.pth')
    torch.save({'params': DSNet.from_config('cpu').state_dict()}, ckpt)
    with open(os.path.join(REPO, 'options', 'test', 'test_DSNet_benchmark.yml')) as f:
        opt = yaml.safe_load(f)
    opt['datasets']['test_1'].update(dataroot_gt=str(tmp_path / 'GT'), dataroot_lq=str(tmp_path / 'LRx4'))
    opt['path']['pretrain_network_g'] = ckpt
    with open(tmp_path / 'bench.yml', 'w') as f:
        yaml.safe_dump(opt, f)
    res = subprocess.run([sys.executable, os.path.join(REPO, 'fhgan_plugin', 'test.py'), '-opt',
                          str(tmp_path / 'bench.yml')], cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    log = open(next((tmp_path / 'results' / opt['name']).glob('test_*.log'))).read()
    psnr = float(re.search(r'# psnr: ([\d.]+)', log)[1])
    assert 3 < psnr < 60 and re.search(r'# ssim: 0\.\d+', log)
    assert len(list((tmp_path / 'results' / opt['name'] / 'visualization' / 'benchmark').glob('*.png'))) == 3


class _MeanAbs(torch.nn.Module):
    """A stand-in for LPIPS: per-image mean absolute difference; records the batch sizes it is called with."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return (x - y).abs().mean((1, 2, 3))


def test_lpips_faces_are_gathered_across_batches_in_order(face_folder: str) -> None:
    """LPIPS runs on the evenly spaced faces gathered into full batches (not ~1 face per SR batch); the values are
    per selected image, in image order, equal to computing each directly."""
    ts = load_test_set(face_folder)  # 12 faces
    lp = _MeanAbs()
    ev = Evaluator(lpips=lp, batch_size=4, lpips_images=7)
    res = ev.run_method(parse_method('bicubic'), ts)
    idx = np.flatnonzero(ev.lpips_mask(len(ts.images)))
    assert len(idx) == 7 and len(res.lpips) == 7
    sr = parse_method('bicubic').super_resolve(ts.lq.float() / 255, ts.hr.float() / 255)
    ref = (sr[idx] - ts.hr[idx].float() / 255).abs().mean((1, 2, 3))
    assert np.allclose(res.lpips, ref.numpy(), atol=1e-6)
    assert lp.batches == [4, 3]


def test_arch_missing_a_required_option_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    ckpt = tmp_path / 'e.pth'
    torch.save({'params': {}}, ckpt)
    m = parse_method(f'E=EDSR(upscale=8)@{ckpt}')
    with pytest.raises(MethodError, match=r"arch EDSR with options \{'upscale': 8\}: .*num_in_ch"):
        m.load(torch.device('cpu'))
