"""The ×8 face-SR benchmark: MATLAB-style degradation, the FR warp, the CelebA-1000 pairs, the conventions that
reproduce the papers' published bicubic row, and the ×8 FaceSRDataset option."""
from __future__ import annotations

import os
from itertools import combinations

import cv2
import numpy as np
import pytest
import torch

from fhgan_plugin.data.alignment import arcface_template, estimate_similarity, warp_affine_batch
from fhgan_plugin.data.degradation import degrade, matlab_bicubic_degradation
from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
from fhgan_plugin.data.face_sr_x8 import identity_pairs, read_overlap
from fhgan_plugin.utils.upsample import opencv_bicubic
from tests.conftest import smooth_image, write_faces


def test_matlab_bicubic_is_basicsr_imresize_on_the_uint8_grid() -> None:
    from basicsr.utils.matlab_functions import imresize
    rng = np.random.default_rng(0)
    hr = torch.from_numpy(smooth_image(rng, 128)[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255
    lq = matlab_bicubic_degradation(hr, 8)
    assert lq.shape == (3, 16, 16)
    ref = (imresize(hr, 1 / 8) * 255).round().clamp(0, 255) / 255
    assert torch.equal(lq, ref)
    assert torch.equal((lq * 255).round(), lq * 255)  # uint8 grid
    batch = matlab_bicubic_degradation(torch.stack([hr, hr.flip(-1)]), 8)  # batched = per image
    assert torch.equal(batch[0], lq) and torch.equal(batch[1], matlab_bicubic_degradation(hr.flip(-1), 8))
    grey = torch.full((3, 64, 64), 0.4)  # a flat image stays flat: the kernel sums to 1
    assert torch.allclose(matlab_bicubic_degradation(grey, 8, quantize=False), torch.full((3, 8, 8), 0.4), atol=1e-6)


def test_degrade_names_valid_choices() -> None:
    with pytest.raises(ValueError, match=r"degradation 'box' is not one of \['bicubic_matlab', 'bilinear'\]"):
        degrade(torch.zeros(3, 16, 16), 4, 'box')


def test_face_sr_dataset_degradation_option(tmp_path) -> None:  # noqa: ANN001
    root = str(tmp_path / 'faces')
    write_faces(root, 3, size=64)
    ds = FaceSRDataset({'dataroot_gt': root, 'scale': 8, 'phase': 'val', 'degradation': 'bicubic_matlab'})
    item = ds[0]
    assert item['lq'].shape == (3, 8, 8)
    assert torch.equal(item['lq'], matlab_bicubic_degradation(item['gt'], 8))
    with pytest.raises(ValueError, match=r"FaceSRDataset: degradation 'bicubic' is not one of"):
        FaceSRDataset({'dataroot_gt': root, 'scale': 8, 'degradation': 'bicubic'})


def test_warp_affine_batch_equals_opencv() -> None:
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3)).astype(np.float32), (0, 0), 2)
    lms = np.array([[45, 55], [83, 55], [64, 75], [48, 95], [80, 95]], float) + rng.normal(0, 2, (5, 2))
    mat = estimate_similarity(lms, arcface_template(112))
    ref = cv2.warpAffine(img, mat, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = warp_affine_batch(torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(mat)[None], 112)
    assert np.abs(out[0].permute(1, 2, 0).numpy() - ref).max() < 1e-2  # grey levels of 0-255
    x = torch.rand(2, 3, 128, 128, requires_grad=True)  # differentiable (identity loss at x8)
    warp_affine_batch(x, torch.from_numpy(np.stack([mat, mat])), 112).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_identity_pairs_all_same_pairs_balanced_disjoint_folds() -> None:
    ids = {f'{i:03d}.jpg': str(i % 23 if i < 60 else 100 + i) for i in range(90)}  # 23 repeated people + singles
    pairs = identity_pairs(ids, n_folds=5, seed=0)
    by_id: dict[str, list[str]] = {}
    for f, p in ids.items():
        by_id.setdefault(p, []).append(f)
    n_same = sum(len(list(combinations(v, 2))) for v in by_id.values())
    same = [p for p in pairs if p.issame]
    assert len(same) == n_same  # every same-person pair
    assert len(pairs) == 2 * n_same  # as many different-person pairs
    assert all(ids[p.path1] == ids[p.path2] for p in same)
    assert all(ids[p.path1] != ids[p.path2] for p in pairs if not p.issame)
    people_of = {}
    for p in pairs:
        for f in (p.path1, p.path2):
            assert people_of.setdefault(ids[f], p.fold) == p.fold  # a person is in one fold only
    assert identity_pairs(ids, n_folds=5, seed=0) == pairs  # fixed seed: the same pairs


def test_opencv_bicubic_is_cv2_resize() -> None:
    rng = np.random.default_rng(2)
    lr = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    out = opencv_bicubic(torch.from_numpy(lr).permute(0, 3, 1, 2).float() / 255, 8)
    ref = np.stack([cv2.resize(a, (128, 128), interpolation=cv2.INTER_CUBIC) for a in lr])
    assert torch.equal((out * 255).round().to(torch.uint8), torch.from_numpy(ref).permute(0, 3, 1, 2))


def test_read_overlap_strips_set_prefix(tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / 'overlap.txt'
    p.write_text('# header\nceleba_id299/7206/182757.jpg same_identity\n7001/1.jpg same_file\n')
    assert read_overlap(str(p)) == {'7206/182757.jpg', '7001/1.jpg'}


def test_bicubic_reproduces_published_row(shared: str) -> None:
    """The conventions (MATLAB bicubic LR, OpenCV bicubic up, Y, crop 8, BasicSR metrics) reproduce the published
    Bicubic row (23.58 / 0.6285 CelebA-1000, 23.88 / 0.6628 Helen-50) within 0.1 dB / 0.005."""
    from fhgan_plugin.evaluation.x8 import CROP_BORDER, PUBLISHED_X8
    from fhgan_plugin.utils.metrics import psnr_ssim_batch
    pub = PUBLISHED_X8['rows']['Bicubic']
    for k, folder in enumerate(('celeba_val_1000_HR', 'helen_val_50_HR')):
        root = os.path.join(shared, 'data', 'face_sr_x8', folder)
        files = sorted(os.listdir(root))
        hr = torch.stack([torch.from_numpy(cv2.imread(os.path.join(root, f))[:, :, ::-1].copy()).permute(2, 0, 1)
                          for f in files])
        lq = matlab_bicubic_degradation(hr.float() / 255, 8)
        sr = (opencv_bicubic(lq, 8) * 255).round().to(torch.uint8)
        psnr, ssim = psnr_ssim_batch(sr, hr, CROP_BORDER, True)
        assert abs(np.mean(psnr) - pub[2 * k]) < 0.1, (folder, np.mean(psnr))
        assert abs(np.mean(ssim) - pub[2 * k + 1]) < 0.005, (folder, np.mean(ssim))


def _x8_fixture(tmp_path) -> tuple[str, str]:  # noqa: ANN001
    """A synthetic x8 benchmark: 12 CelebA-style 128x128 JPEG crops of 4 people (pairs over 2 folds) and 3 Helen
    crops, with landmarks and pairs as prepare_benchmark writes them."""
    from fhgan_plugin.data.face_sr_x8 import identity_pairs
    from fhgan_plugin.data.pairs import write_pairs_list
    rng = np.random.default_rng(3)
    shared, prepared = tmp_path / 'x8', tmp_path / 'prepared'
    lm = np.array([[46.5, 48.7], [81.5, 47.1], [64.0, 67.3], [50.6, 82.7], [80.0, 81.3]])
    for folder, key, n in (('celeba_val_1000_HR', 'celeba1000', 12), ('helen_val_50_HR', 'helen50', 3)):
        (shared / folder).mkdir(parents=True)
        rows = ['file,status,score,landmarks']
        for i in range(n):
            f = f'{200000 + i}.jpg'
            cv2.imwrite(str(shared / folder / f), smooth_image(rng, 128))
            jit = lm + rng.normal(0, 1.5, lm.shape)
            rows.append(f"{f},detected,0.99,{' '.join(f'{v:.2f}' for v in jit.ravel())}")
        prepared.mkdir(exist_ok=True)
        (prepared / f'{key}_landmarks.csv').write_text('\n'.join(rows) + '\n')
    ids = {f'{200000 + i}.jpg': str(i % 4) for i in range(12)}
    write_pairs_list(str(prepared / 'celeba1000_pairs.txt'), identity_pairs(ids, n_folds=2))
    return str(shared), str(prepared)


def test_x8_benchmark_end_to_end_on_a_synthetic_set(tmp_path) -> None:  # noqa: ANN001
    """run_x8_benchmark: PSNR/SSIM on Y with crop 8 over *every* image (not only the paired ones), verification of
    SR warped to the ArcFace framing, params / GMACs / faces/s for networks, HR verification only; the table holds
    the measured rows and the published ones."""
    from fhgan_plugin.archs.dsnet_arch import DSNet
    from fhgan_plugin.archs.face_recognizer import FaceEmbedder
    from fhgan_plugin.evaluation.methods import parse_method
    from fhgan_plugin.evaluation.x8 import run_x8_benchmark, x8_markdown
    from fhgan_plugin.utils.metrics import psnr_ssim_batch
    shared, prepared = _x8_fixture(tmp_path)
    torch.manual_seed(0)
    net = DSNet(num_feat=8, num_block=2, num_layer=2, growth=4, num_bottleneck=8, upscale=8)
    ckpt = str(tmp_path / 'g.pth')
    torch.save({'params': net.state_dict()}, ckpt)
    methods = [parse_method('bicubic-opencv'), parse_method('hr'),
               parse_method(f'tiny=DSNet(num_feat=8,num_block=2,num_layer=2,growth=4,num_bottleneck=8,upscale=8)@{ckpt}')]
    torch.manual_seed(0)
    fr = FaceEmbedder({'type': 'FHMobileFaceNet'}, flip_concat=True).eval()
    rows = run_x8_benchmark(methods, dict(fr=fr, fr_key='mfn', lpips=None, cache_dir=None, batch_size=4),
                            shared, prepared, fr_available=True)
    bic, hr, tiny = rows
    # bicubic PSNR over all 12 CelebA crops (6 are in no pair here would be dropped by a pairs-only test set)
    root = os.path.join(shared, 'celeba_val_1000_HR')
    gt = torch.stack([torch.from_numpy(cv2.imread(os.path.join(root, f))[:, :, ::-1].copy()).permute(2, 0, 1)
                      for f in sorted(os.listdir(root))])
    sr = opencv_bicubic(matlab_bicubic_degradation(gt.float() / 255, 8), 8)
    psnr, ssim = psnr_ssim_batch(sr, gt, 8, True)
    assert bic['psnr_celeba1000'] == pytest.approx(np.mean(psnr)) and bic['ssim_celeba1000'] == pytest.approx(
        np.mean(ssim))
    assert bic['psnr_helen50'] is not None and bic['acc'] is not None and bic.get('params') is None
    assert hr['psnr_celeba1000'] is None and hr['psnr_helen50'] is None and 0 <= hr['acc'] <= 100
    assert tiny['params'] == sum(p.numel() for p in net.parameters()) and tiny['gmacs'] > 0 and tiny['faces_per_s'] > 0
    assert len(tiny['acc_folds']) == 2
    table = x8_markdown(rows)
    assert '| Bicubic (OpenCV) |' in table and '| SFMNet (published, not re-run) | 27.56 |' in table


def test_face_embedder_input_template_warps_to_the_arcface_framing(tmp_path) -> None:  # noqa: ANN001
    import json

    from fhgan_plugin.archs.face_recognizer import FaceEmbedder
    lm = [[46.5, 48.7], [81.5, 47.1], [64.0, 67.3], [50.6, 82.7], [80.0, 81.3]]
    tpl = tmp_path / 't.json'
    tpl.write_text(json.dumps({'size': 128, 'landmarks': lm}))
    torch.manual_seed(0)
    plain = FaceEmbedder({'type': 'FHMobileFaceNet'}).eval()
    warped = FaceEmbedder({'type': 'FHMobileFaceNet'}, input_template=str(tpl)).eval()
    warped.backbone.load_state_dict(plain.backbone.state_dict())
    x = torch.rand(2, 3, 128, 128)
    mat = estimate_similarity(np.array(lm), arcface_template(112))
    with torch.no_grad():
        ref = plain(warp_affine_batch(x, torch.from_numpy(np.stack([mat, mat])), 112))
        assert torch.allclose(warped(x), ref, atol=1e-5)
    with pytest.raises(ValueError, match='input_template is for 128x128 faces'):
        warped(torch.rand(1, 3, 112, 112))
    with pytest.raises(ValueError, match='FaceEmbedder input_template must give'):
        FaceEmbedder({'type': 'FHMobileFaceNet'}, input_template=[128, [[0, 0]]])
    with pytest.raises(FileNotFoundError, match='template128.json'):
        FaceEmbedder({'type': 'FHMobileFaceNet'}, input_template=str(tmp_path / 'missing.json'))


def test_helen_template_is_the_mean_of_the_detected_crops_only(tmp_path) -> None:  # noqa: ANN001
    """template128_helen50.json: the mean landmarks of the *detected* Helen-50 crops (a 'fallback' row, which
    carries the CelebA-1000 template, must not pull it), written once and then read back."""
    from fhgan_plugin.data.face_sr_x8 import helen_template
    with pytest.raises(FileNotFoundError, match='helen50_landmarks.csv'):
        helen_template(str(tmp_path))
    a = np.arange(10, dtype=float) + 30
    b = a + 4
    with open(tmp_path / 'helen50_landmarks.csv', 'w') as f:
        f.write('file,status,score,landmarks\n')
        f.write('1.jpg,detected,0.99,' + ' '.join(f'{v:.2f}' for v in a) + '\n')
        f.write('2.jpg,detected,0.98,' + ' '.join(f'{v:.2f}' for v in b) + '\n')
        f.write('3.jpg,fallback,0.0000,' + ' '.join('0.00' for _ in a) + '\n')
    tpl = helen_template(str(tmp_path))
    assert tpl.shape == (5, 2) and np.allclose(tpl.ravel(), a + 2)
    assert (tmp_path / 'template128_helen50.json').is_file()
    os.remove(tmp_path / 'helen50_landmarks.csv')
    assert np.allclose(helen_template(str(tmp_path)), tpl)  # read back, not recomputed


@pytest.mark.shared
@pytest.mark.slow
def test_evaluate_prepares_the_x8_benchmark_once_from_shared(shared: str, tmp_path) -> None:  # noqa: ANN001
    """From a clean checkout, `evaluate.py --benchmark face-sr-x8` prepares what it needs (landmarks detected
    once on the HR crops, the kept pairs file) and a second call leaves those files alone. Measured: 998 of the 1,000
    CelebA crops and all 50 Helen crops have a detected face; the pairs are the 572 same-person pairs plus 572
    others, byte-identical to the pinned file every reported number used."""
    import csv
    import hashlib

    from fhgan_plugin.data.face_sr_x8 import CELEBA1000_PAIRS_SHA256
    from fhgan_plugin.evaluation.cli import ensure_x8_prepared
    out = str(tmp_path / 'face_sr_x8')
    args = (os.path.join(shared, 'data', 'face_sr_x8'), out, os.path.join(shared, 'models', 'facexlib'))
    ensure_x8_prepared(*args)
    status = {}
    for key in ('celeba1000', 'helen50'):
        with open(os.path.join(out, f'{key}_landmarks.csv'), newline='') as f:
            status[key] = [r['status'] for r in csv.DictReader(f)]
    assert (len(status['celeba1000']), status['celeba1000'].count('detected')) == (1000, 998)
    assert status['helen50'] == ['detected'] * 50
    pairs = os.path.join(out, 'celeba1000_pairs.txt')
    with open(pairs, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == CELEBA1000_PAIRS_SHA256
    stamps = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in os.listdir(out) if not os.path.isdir(
        os.path.join(out, f))}
    ensure_x8_prepared(*args)
    assert {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in stamps} == stamps
