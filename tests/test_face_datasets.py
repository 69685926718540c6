"""Identity and verification-pair datasets, and prepared real data."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from basicsr.data import build_dataset
from PIL import Image

from tests.conftest import write_faces


def _labels(tmp_path, face_folder: str, lines: list[str]) -> str:  # noqa: ANN001
    p = tmp_path / 'labels.txt'
    p.write_text('\n'.join(lines) + '\n')
    return str(p)


def test_identity_dataset_labels_and_lq(tmp_path) -> None:  # noqa: ANN001
    root = str(tmp_path / 'faces')
    rels = write_faces(root, 9, size=112, seed=5)
    label_of = {'id0': 2, 'id1': 0, 'id2': 1}
    lf = _labels(tmp_path, root, [f'{r} {label_of[r.split("/")[0]]}' for r in rels])
    ds = build_dataset({'name': 'ids', 'type': 'FaceIdentityDataset', 'dataroot_gt': root, 'label_file': lf,
                        'scale': 4, 'phase': 'train', 'use_hflip': False})
    assert len(ds) == 9 and ds.num_classes == 3
    for i in range(len(ds)):
        item = ds[i]
        assert item['label'].dtype == torch.long and int(item['label']) == label_of[rels[i].split('/')[0]]
        arr = (item['gt'].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        pil = np.asarray(Image.fromarray(arr).resize((28, 28), Image.BILINEAR)).astype(int)
        lq = (item['lq'].permute(1, 2, 0).numpy() * 255).round().astype(int)
        assert np.abs(lq - pil).max() <= 1


def test_identity_label_errors(tmp_path) -> None:  # noqa: ANN001
    from fhgan_plugin.data.face_id_dataset import read_label_file
    root = str(tmp_path / 'faces')
    rels = write_faces(root, 6, size=16)  # id0: 000, 003; id1: 001, 004; id2: 002, 005
    bad = _labels(tmp_path, root, ['id0/000.png 0', 'id1/001.png 1', 'id0/003.png 5'])
    with pytest.raises(ValueError, match=r"labels.txt:3: id0/003.png has label 5 but folder 'id0' has label 0"):
        read_label_file(bad, root)
    bad = _labels(tmp_path, root, ['id0/000.png 0', 'id1/001.png 0'])
    with pytest.raises(ValueError, match=r"labels.txt:2: label 0 is used for folder 'id1'"):
        read_label_file(bad, root)
    bad = _labels(tmp_path, root, ['id0/000.png zero'])
    with pytest.raises(ValueError, match=r'labels.txt:1: expected'):
        read_label_file(bad, root)
    bad = _labels(tmp_path, root, ['id0/000.png 0', 'id0/999.png 0'])
    with pytest.raises(FileNotFoundError, match=r'labels.txt:2: id0/999.png'):
        read_label_file(bad, root)
    assert read_label_file(_labels(tmp_path, root, [f'{r} {int(r[2])}' for r in rels]), root)[1] == [0, 1, 2, 0, 1, 2]


def test_verification_pairs_dataset(tmp_path) -> None:  # noqa: ANN001
    root = str(tmp_path / 'lfw')
    for name, idx in [('A', 1), ('A', 2), ('B', 1), ('C', 3)]:
        write_faces(os.path.join(root, '_tmp'), 1, size=32, seed=idx + ord(name))
        os.makedirs(os.path.join(root, name), exist_ok=True)
        os.replace(os.path.join(root, '_tmp', 'id0', '000.png'), os.path.join(root, name, f'{name}_{idx:04d}.png'))
    pairs = tmp_path / 'pairs.txt'
    pairs.write_text('1\t1\nA\t1\t2\nB\t1\tC\t3\n')
    ds = build_dataset({'name': 'v', 'type': 'VerificationPairsDataset', 'dataroot_gt': root,
                        'pairs_file': str(pairs), 'scale': 4, 'phase': 'val'})
    assert len(ds) == 2 and len(ds.images) == 4
    a, b = ds[0], ds[1]
    assert bool(a['issame']) and not bool(b['issame']) and int(a['fold']) == 0
    assert a['gt1'].shape == (3, 32, 32) and a['lq2'].shape == (3, 8, 8)
    assert a['gt1_path'].endswith('A/A_0001.png') and b['gt2_path'].endswith('C/C_0003.png')
    pairs.write_text('1\t1\nA\t1\t2\nB\t1\tC\t4\n')
    with pytest.raises(FileNotFoundError, match='pair 1 names C/C_0004.png'):
        build_dataset({'name': 'v', 'type': 'VerificationPairsDataset', 'dataroot_gt': root,
                       'pairs_file': str(pairs), 'scale': 4, 'phase': 'val'})
