"""Realistic LR degradations (fhgan_plugin/data/real_degradation.py) and the probe-condition protocols, against
hand-computed cases."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fhgan_plugin.data.degradation import canonical_degradation
from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
from fhgan_plugin.data.pairs import Pair, write_pairs_list
from fhgan_plugin.data.real_degradation import KERNELS, PRESETS, RealDegradation, blur_kernel, image_seed, jpeg
from fhgan_plugin.evaluation.conditions import CONDITIONS, make_probes, parse_conditions
from fhgan_plugin.metrics.verification import gallery_probe_scores, probe_sides
from tests.conftest import write_faces


def face(seed: int = 0, size: int = 112) -> torch.Tensor:
    """A smooth (3, size, size) test face in [0, 1]."""
    rng = np.random.default_rng(seed)
    low = torch.from_numpy(rng.random((1, 3, 8, 8), dtype=np.float32))
    return F.interpolate(low, size=(size, size), mode='bicubic', align_corners=False).clamp(0, 1)[0]


@pytest.mark.parametrize('kind', KERNELS)
def test_every_kernel_sums_to_one_and_has_the_stated_size(kind: str) -> None:
    k = blur_kernel({'type': kind, 'sigma_x': 1.5, 'sigma_y': 0.8, 'theta': 0.4, 'beta': 1.5})
    assert k.shape == (11, 11)  # 2 * ceil(3 * 1.5) + 1
    assert k.sum() == pytest.approx(1.0, abs=1e-6) and (k >= 0).all()
    assert np.unravel_index(k.argmax(), k.shape) == (5, 5)  # centred
    assert blur_kernel({'type': kind, 'sigma_x': 9.0, 'sigma_y': 9.0, 'theta': 0, 'beta': 1}).shape == (21, 21)


def test_isotropic_kernel_is_the_hand_computed_gaussian() -> None:
    x = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(x[None] ** 2 + x[:, None] ** 2) / 2.0)
    np.testing.assert_allclose(blur_kernel({'type': 'iso', 'sigma_x': 1.0, 'sigma_y': 1.0, 'theta': 0, 'beta': 1}),
                               g / g.sum(), atol=1e-7)


def test_no_degradation_is_the_canonical_lr_bit_for_bit() -> None:
    hr = face()
    assert torch.equal(RealDegradation()(hr, 28, seed=3), canonical_degradation(hr, 4))
    preset = RealDegradation(**PRESETS['surveillance'])
    assert preset.sample(0, 28)['capture'] in range(14, 41)
    clean = [s for s in range(400) if not any(preset.sample(s, 28)[k] for k in ('kernel', 'noise', 'jpeg')) and
             preset.sample(s, 28)['capture'] == 28]
    assert 0.15 < len(clean) / 400 < 0.3  # clean_prob 0.2 plus the rare draw of nothing


def test_small_face_is_downscaled_then_bicubic_upscaled() -> None:
    hr = face(1)
    lq = RealDegradation.from_options(CONDITIONS['size14'][1])(hr, 28, seed=0)
    small = (F.interpolate(hr[None], size=(14, 14), mode='bilinear', align_corners=False, antialias=True)
             * 255).round().clamp(0, 255) / 255
    want = (F.interpolate(small, size=(28, 28), mode='bicubic', align_corners=False).clamp(0, 1) * 255).round() / 255
    assert torch.equal(lq, want[0])


def test_jpeg_quality_is_respected_and_matches_basicsr() -> None:
    from basicsr.data.degradations import add_jpg_compression
    lr = canonical_degradation(face(2), 4)
    for q in (30, 90):
        out = RealDegradation(jpeg_prob=1.0, jpeg_quality=[q, q])(face(2), 28, seed=0)
        bgr = (lr.permute(1, 2, 0).flip(-1) * 255).round().byte().numpy()
        ok, enc = cv2.imencode('.jpg', np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, q])
        dec = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1]
        by_hand = torch.from_numpy(np.ascontiguousarray(dec)).permute(2, 0, 1)
        assert ok and torch.equal((out * 255).round().byte(), by_hand)
        basicsr = add_jpg_compression(lr.permute(1, 2, 0).flip(-1).numpy(), q)[..., ::-1]
        assert np.abs(jpeg(lr[None], q)[0].permute(1, 2, 0).numpy() - basicsr).max() == 0
    err = [(RealDegradation(jpeg_prob=1.0, jpeg_quality=[q, q])(face(2), 28, 0) - lr).abs().mean()
           for q in (10, 50, 95)]
    assert err[0] > err[1] > err[2] > 0


def test_gaussian_noise_has_the_requested_sigma() -> None:
    grey = torch.full((3, 448, 448), 128 / 255)  # on the uint8 grid, no clipping: the noise is what was added
    lq = RealDegradation(noise_prob=1.0, noise_sigma=[10, 10])(grey, 112, seed=0)
    assert (lq * 255 - 128).std().item() == pytest.approx(10.0, rel=0.03)  # (plus rounding: +1/12 variance)
    assert (lq * 255 - 128).mean().abs().item() < 0.2


def test_seeds_reproduce_and_differ() -> None:
    deg = RealDegradation.from_options({'preset': 'surveillance'})
    hr = face(3)
    a, b = deg(hr, 28, seed=11), deg(hr, 28, seed=11)
    assert torch.equal(a, b)
    assert sum(not torch.equal(deg(hr, 28, 11), deg(hr, 28, s)) for s in range(12, 22)) >= 8
    state = torch.get_rng_state()
    RealDegradation(noise_prob=1.0)(hr, 28, seed=5)
    assert torch.equal(state, torch.get_rng_state())  # the noise never moves the caller's RNG
    assert image_seed(0, 'a/b.png') == image_seed(0, 'a/b.png') != image_seed(1, 'a/b.png')


def test_probes_and_their_checksum_reproduce() -> None:
    hr = torch.stack([(face(s) * 255).round().byte() for s in range(3)])
    names = ['x/1.png', 'x/2.png', 'y/1.png']
    a, sa = make_probes(hr, names, 'realistic', 28, seed=0)
    b, sb = make_probes(hr, names, 'realistic', 28, seed=0)
    c, sc = make_probes(hr, names, 'realistic', 28, seed=1)
    assert torch.equal(a, b) and sa == sb and len(sa) == 64 and sc != sa
    clean, _ = make_probes(hr, names, 'clean', 28)
    assert torch.equal(clean, (canonical_degradation(hr.float() / 255, 4) * 255).round().byte())


@pytest.mark.parametrize('opt, needle', [
    ({'jpeg_quality': [0, 90]}, 'jpeg_quality must be [low, high], integers within [1, 100]'),
    ({'blur_prob': 1.5}, 'blur_prob must be a probability within [0, 1]'),
    ({'blur_sigma': [2.0, 1.0]}, 'blur_sigma must be [low, high]'),
    ({'capture_size': [14.5, 20]}, 'capture_size must be [low, high], integers'),
    ({'kernel_list': ['iso', 'box']}, 'kernel_list must be a non-empty list of'),
    ({'kernel_list': ['iso'], 'kernel_prob': [0.5, 0.5]}, 'kernel_prob must be 1 non-negative'),
    ({'resize_modes': ['nearest']}, 'resize_modes must be'),
    ({'jpg_prob': 0.5}, "unknown option(s) ['jpg_prob']"),
    ({'preset': 'cctv'}, "preset 'cctv' is not one of ['surveillance']"),
])
def test_a_bad_option_names_itself_and_its_valid_range(opt: dict, needle: str) -> None:
    with pytest.raises(ValueError) as err:
        RealDegradation.from_options(opt, 'FaceSRDataset: degradation')
    assert needle in str(err.value) and str(err.value).startswith('FaceSRDataset: degradation')


def test_dataset_draws_fresh_lr_in_training_and_fixed_lr_outside(tmp_path) -> None:  # noqa: ANN001
    root = str(tmp_path / 'faces')
    write_faces(root, 4, size=112)
    opt = {'dataroot_gt': root, 'scale': 4, 'degradation': {'preset': 'surveillance', 'clean_prob': 0.0}}
    train = FaceSRDataset({**opt, 'phase': 'train'})
    torch.manual_seed(0)
    first = [train[0]['lq'] for _ in range(4)]
    assert sum(not torch.equal(first[0], x) for x in first[1:]) >= 2
    torch.manual_seed(0)
    assert all(torch.equal(x, train[0]['lq']) for x in first)  # reproducible from the training seed
    val_a, val_b = FaceSRDataset({**opt, 'phase': 'val'}), FaceSRDataset({**opt, 'phase': 'val'})
    assert all(torch.equal(val_a[i]['lq'], val_b[i]['lq']) for i in range(4))
    other = FaceSRDataset({**opt, 'phase': 'val', 'degradation_seed': 1})
    assert not all(torch.equal(val_a[i]['lq'], other[i]['lq']) for i in range(4))
    assert val_a[0]['lq'].shape == (3, 28, 28)
    with pytest.raises(ValueError, match="degradation 'cctv' is not one of"):
        FaceSRDataset({**opt, 'degradation': 'cctv'})


def test_gallery_probe_scores_by_hand() -> None:
    emb_sr = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    emb_hr = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, -1.0]])
    i1, i2 = np.array([0, 1, 2]), np.array([1, 2, 0])
    assert probe_sides(3).tolist() == [0, 1, 0]
    # pair 0: probe = image 0 (SR) vs gallery image 1 (HR) -> (1,0).(1,0) = 1
    # pair 1: probe = image 2 (SR) vs gallery image 1 (HR) -> (1,1)/√2 . (1,0) = 1/√2
    # pair 2: probe = image 2 (SR) vs gallery image 0 (HR) -> (1,1)/√2 . (0,1) = 1/√2
    np.testing.assert_allclose(gallery_probe_scores(emb_sr, emb_hr, i1, i2), [1, 2 ** -0.5, 2 ** -0.5])


def test_conditions_parse() -> None:
    assert parse_conditions('all') == list(CONDITIONS)
    assert parse_conditions('jpeg30, clean') == ['jpeg30', 'clean']
    from fhgan_plugin.errors import InputError
    with pytest.raises(InputError, match=r"unknown probe condition\(s\) \['jpeg20'\]"):
        parse_conditions('clean,jpeg20')


def test_gallery_probe_cli_and_paired_folds(shared: str, tmp_path) -> None:  # noqa: ANN001
    """Synthetic faces, 40 pairs: every condition gets a checksum, HR is the same in all, two runs agree, and
    compare_folds reads one condition."""
    from fhgan_plugin.evaluation.cli import main as evaluate_main
    from scripts.compare_folds import main as compare_main
    root = str(tmp_path / 'faces')
    rels = write_faces(root, 20, size=112)
    pairs = [Pair(rels[i % 20], rels[(i + 3) % 20], i % 2 == 0, i % 10) for i in range(40)]
    write_pairs_list(str(tmp_path / 'pairs.txt'), pairs)
    args = ['--protocol', 'gallery-probe', '--conditions', 'clean,jpeg30,realistic', '--root', root,
            '--pairs-file', str(tmp_path / 'pairs.txt'), '--pairs-kind', 'list', '--method', 'bicubic',
            '--method', 'bilinear', '--method', 'hr', '--no-cache']
    a = evaluate_main([*args, '--out', str(tmp_path / 'a')])
    b = evaluate_main([*args, '--out', str(tmp_path / 'b')])
    probes = {p.path1 if k % 2 == 0 else p.path2 for k, p in enumerate(pairs)}
    assert list(a['conditions']) == ['clean', 'jpeg30', 'realistic'] and a['probes'] == len(probes) == 10
    for c, res in a['conditions'].items():
        assert res['checksum'] == b['conditions'][c]['checksum'] and len(res['checksum']) == 64
        assert [r['acc'] for r in res['rows']] == [r['acc'] for r in b['conditions'][c]['rows']]
        hr = res['rows'][2]
        assert hr['method'] == 'FR-HR images' and hr['psnr'] is None
        assert hr['acc'] == a['conditions']['clean']['rows'][2]['acc']
        assert all(len(r['acc_folds']) == 10 for r in res['rows'])
    assert a['conditions']['clean']['rows'][0]['psnr'] > a['conditions']['jpeg30']['rows'][0]['psnr']
    cmp = compare_main([str(tmp_path / 'a' / 'summary.json'), '--condition', 'jpeg30', '--a', 'FR-Bicubic',
                        '--b', 'FR-Bilinear'])
    rows = {r['method']: r for r in a['conditions']['jpeg30']['rows']}
    assert cmp['acc_a'] == rows['FR-Bicubic']['acc'] and cmp['acc_b'] == rows['FR-Bilinear']['acc']
    assert 'realistic (surveillance)' in open(os.path.join(tmp_path, 'a', 'conditions.md')).read()
    assert json.load(open(os.path.join(tmp_path, 'a', 'summary.json')))['protocol'] == 'gallery-probe'
    fig = cv2.imread(a['outputs']['figure'])
    assert fig.shape[1] == 4 * 112 and fig.shape[0] > 2 * 3 * 112  # probe, bilinear, bicubic, HR; 2 probes x 3 rows
    # lr-lr with clean probes is the standard protocol: the same accuracy as a plain evaluation
    common = ['--root', root, '--pairs-file', str(tmp_path / 'pairs.txt'), '--pairs-kind', 'list', '--method',
              'bicubic', '--no-cache', '--figure-pairs', '']
    lrlr = evaluate_main([*common, '--protocol', 'lr-lr', '--conditions', 'clean', '--out', str(tmp_path / 'c')])
    plain = evaluate_main([*common, '--lpips-vgg', 'none', '--out', str(tmp_path / 'd')])
    assert lrlr['probes'] == 20
    assert lrlr['conditions']['clean']['rows'][0]['acc'] == pytest.approx(plain['rows'][0]['acc'])
    assert lrlr['conditions']['clean']['rows'][0]['psnr'] == pytest.approx(plain['rows'][0]['psnr'])
    with pytest.raises(SystemExit, match='--condition must be one of'):
        compare_main([str(tmp_path / 'a' / 'summary.json'), '--a', 'FR-Bicubic', '--b', 'FR-Bilinear'])


def test_degrade_faces_writes_the_evaluation_probes(tmp_path) -> None:  # noqa: ANN001
    """scripts/degrade_faces.py --condition writes the very bytes the evaluation's probes have."""
    from scripts.degrade_faces import main
    rels = write_faces(str(tmp_path / 'hr'), 3, size=112)
    assert main([str(tmp_path / 'hr'), str(tmp_path / 'lr'), '--condition', 'realistic', '--seed', '3'])['written'] == 3
    hr = torch.stack([torch.from_numpy(cv2.imread(str(tmp_path / 'hr' / r))[:, :, ::-1].copy()).permute(2, 0, 1)
                      for r in rels])
    probes, _ = make_probes(hr, rels, 'realistic', 28, seed=3)
    for r, want in zip(rels, probes):
        got = torch.from_numpy(cv2.imread(str(tmp_path / 'lr' / r))[:, :, ::-1].copy()).permute(2, 0, 1)
        assert torch.equal(got, want)
    with pytest.raises(SystemExit, match="--condition 'fog' is not one of"):
        main([str(tmp_path / 'hr'), str(tmp_path / 'lr2'), '--condition', 'fog'])


def test_checkpoint_selection_names_the_validation_set(tmp_path) -> None:  # noqa: ANN001
    """With two validation sets reporting the metric, --select must name one (METRIC@DATASET)."""
    from scripts.collect_validation import select_checkpoint
    run = tmp_path / 'run'
    (run / 'models').mkdir(parents=True)
    for it in (150, 300):
        (run / 'models' / f'net_g_{it}.pth').write_bytes(b'x')
    log = ['  val_freq: 150', '  total_iter: 300']
    for it, real, clean in ((150, 80.0, 96.0), (300, 82.0, 95.0)):
        log += [f'2026-12-02 10:00:0{it // 150},000 INFO: [FHGAN..][epoch:  0, iter:    {it}, lr:(1.000e-04,)] x',
                f'2026-12-02 10:00:0{it // 150},100 INFO: Validation val_pairs_real', f'\t # verification: {real}',
                f'2026-12-02 10:00:0{it // 150},200 INFO: Validation val_pairs_clean', f'\t # verification: {clean}']
    (run / 'train_run.log').write_text('\n'.join(log) + '\n')
    with pytest.raises(ValueError, match='name one, e.g. verification@val_pairs_clean'):
        select_checkpoint(str(run), 'verification')
    assert select_checkpoint(str(run), 'verification@val_pairs_real')['iter'] == 300
    best_clean = select_checkpoint(str(run), 'verification@val_pairs_clean')
    assert best_clean['iter'] == 150 and best_clean['dataset'] == 'val_pairs_clean'
