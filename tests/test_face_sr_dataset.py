"""FaceSRDataset and the canonical degradation."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from basicsr.data import build_dataset
from PIL import Image

from fhgan_plugin.data import FaceSRDataset, back_project, canonical_degradation
from tests.conftest import write_faces


def _pil_bilinear(gt: torch.Tensor, size: int) -> np.ndarray:
    arr = (gt.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return np.asarray(Image.fromarray(arr).resize((size, size), Image.BILINEAR)).astype(np.int16)


def test_lq_matches_independent_pil_bilinear(tmp_path) -> None:  # noqa: ANN001
    root = str(tmp_path / 'hr')
    write_faces(root, 6, size=112, seed=3)
    ds = FaceSRDataset({'dataroot_gt': root, 'scale': 4, 'phase': 'val', 'gt_size': 112})
    assert len(ds) == 6
    for i in range(len(ds)):
        item = ds[i]
        assert item['gt'].shape == (3, 112, 112) and item['lq'].shape == (3, 28, 28)
        assert item['lq_path'] == item['gt_path'] and item['gt_path'].endswith('.png')
        lq = (item['lq'].permute(1, 2, 0).numpy() * 255).round().astype(np.int16)
        # on the uint8 grid
        assert np.allclose(item['lq'].numpy() * 255, lq.transpose(2, 0, 1), atol=1e-3)
        assert np.abs(lq - _pil_bilinear(item['gt'], 28)).max() <= 1


def test_lq_matches_pil_on_a_real_face(shared: str) -> None:
    path = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg')
    img = np.asarray(Image.open(path).convert('RGB'))[69:181, 69:181]
    gt = torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255
    lq = (canonical_degradation(gt, 4).permute(1, 2, 0).numpy() * 255).round().astype(np.int16)
    diff = np.abs(lq - _pil_bilinear(gt, 28))
    assert diff.max() <= 1 and diff.mean() < 0.2


def test_degradation_shapes_and_errors() -> None:
    x = torch.rand(2, 3, 64, 48)
    assert canonical_degradation(x, 4).shape == (2, 3, 16, 12)
    assert canonical_degradation(x[0], 2).shape == (3, 32, 24)
    with pytest.raises(ValueError, match='divisible'):
        canonical_degradation(torch.rand(1, 3, 30, 30), 4)
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        canonical_degradation(torch.rand(30, 30), 4)


def test_back_projection_restores_lr_consistency_and_keeps_the_null_space() -> None:
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 112, 112)
    lq = canonical_degradation(hr)
    # an "SR" face that is HR plus a smooth colour error (visible in the LR) plus fine detail (invisible in it)
    smooth = 0.1 * torch.nn.functional.interpolate(torch.randn(2, 3, 4, 4), size=(112, 112), mode='bicubic')
    detail = 0.05 * torch.sign(torch.randn(2, 3, 56, 56)).repeat_interleave(2, -1).repeat_interleave(2, -2)
    sr = (hr + smooth + detail).clamp(0, 1)

    def lr_error(x: torch.Tensor) -> float:
        return (canonical_degradation(x, quantize=False) - lq).abs().mean().item() * 255

    assert torch.equal(back_project(sr, lq, iters=0), sr)
    errors = [lr_error(back_project(sr, lq, iters=k)) for k in (0, 1, 3, 10)]
    assert errors[0] > 5 and all(b < a for a, b in zip(errors, errors[1:])) and errors[-1] < 0.5
    # the smooth error is removed, so the result is closer to HR than the input was
    assert (back_project(sr, lq, iters=10) - hr).pow(2).mean() < 0.5 * (sr - hr).pow(2).mean()
    # an already consistent face is (nearly) a fixed point
    assert (back_project(hr, lq, iters=5) - hr).abs().mean() < 2 / 255
    with pytest.raises(ValueError, match='iters'):
        back_project(sr, lq, iters=-1)
    with pytest.raises(ValueError, match='same N, C'):
        back_project(sr, lq[:1])


def test_hflip_only_in_training(face_folder: str) -> None:
    opt = {'dataroot_gt': face_folder, 'scale': 4, 'use_hflip': True}
    val = FaceSRDataset({**opt, 'phase': 'val'})
    assert not val.use_hflip
    torch.manual_seed(0)
    train = FaceSRDataset({**opt, 'phase': 'train'})
    gts = [train[0]['gt'] for _ in range(12)]
    ref = val[0]['gt']
    flips = sum(torch.equal(g, ref.flip(-1)) for g in gts)
    assert 0 < flips < 12 and all(torch.equal(g, ref) or torch.equal(g, ref.flip(-1)) for g in gts)


def test_meta_info_file_and_builder(face_folder: str, tmp_path) -> None:  # noqa: ANN001
    meta = tmp_path / 'meta.txt'
    meta.write_text('id0/000.png\nid1/001.png 7\n')
    ds = build_dataset({'name': 'x', 'type': 'FaceSRDataset', 'dataroot_gt': face_folder,
                        'meta_info_file': str(meta), 'scale': 4, 'phase': 'val'})
    assert [os.path.relpath(p, face_folder) for p in ds.paths] == ['id0/000.png', 'id1/001.png']
    meta.write_text('id0/000.png\nmissing/x.png\n')
    with pytest.raises(FileNotFoundError, match=r'meta.txt:2: missing/x.png'):
        FaceSRDataset({'dataroot_gt': face_folder, 'meta_info_file': str(meta), 'scale': 4})


def test_bad_images_name_the_file(face_folder: str) -> None:
    bad = os.path.join(face_folder, 'id0', 'zz_broken.png')
    with open(bad, 'wb') as f:
        f.write(b'not a png')
    ds = FaceSRDataset({'dataroot_gt': face_folder, 'scale': 4, 'phase': 'val'})
    with pytest.raises(ValueError, match='zz_broken.png'):
        ds[ds.paths.index(bad)]
    odd = os.path.join(face_folder, 'id0', 'zz_odd.png')
    cv2.imwrite(odd, np.zeros((30, 30, 3), np.uint8))
    ds = FaceSRDataset({'dataroot_gt': face_folder, 'scale': 4, 'phase': 'val'})
    with pytest.raises(ValueError, match='zz_odd.png is 30x30, not divisible by scale 4'):
        ds[ds.paths.index(odd)]
    ds = FaceSRDataset({'dataroot_gt': face_folder, 'scale': 4, 'phase': 'val', 'gt_size': 16})
    with pytest.raises(ValueError, match='expected 16x16'):
        ds[0]
    with pytest.raises(FileNotFoundError, match='prepare_data'):
        FaceSRDataset({'dataroot_gt': face_folder + '_nope', 'scale': 4})


def test_lmdb_backend(face_folder: str, tmp_path) -> None:  # noqa: ANN001
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    rels = sorted(os.path.relpath(os.path.join(d, f), face_folder) for d, _, fs in os.walk(face_folder) for f in fs)
    keys = [os.path.splitext(r)[0] for r in rels]
    lmdb_path = str(tmp_path / 'faces.lmdb')
    make_lmdb_from_imgs(face_folder, lmdb_path, rels, keys)
    ds = FaceSRDataset({'dataroot_gt': lmdb_path, 'io_backend': {'type': 'lmdb'}, 'scale': 4, 'phase': 'val'})
    disk = FaceSRDataset({'dataroot_gt': face_folder, 'scale': 4, 'phase': 'val'})
    assert len(ds) == len(disk)
    assert torch.equal(ds[0]['gt'], disk[0]['gt']) and torch.equal(ds[0]['lq'], disk[0]['lq'])
