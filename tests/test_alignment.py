"""Similarity transform, alignment tool outcomes on planted bad files, real-face alignment."""
from __future__ import annotations

import csv
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from fhgan_plugin.data.alignment import (
    ARCFACE_TEMPLATE_112,
    arcface_template,
    estimate_similarity,
    transform_points,
    warp_face,
)
from fhgan_plugin.data.prepare import AlignConfig, align_images


def test_template_maps_onto_itself() -> None:
    m = estimate_similarity(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112)
    assert np.allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-10)
    assert np.allclose(arcface_template(224), ARCFACE_TEMPLATE_112 * 2)
    assert np.allclose(arcface_template(112, 0.5).mean(0), (ARCFACE_TEMPLATE_112 - 56).mean(0) * 0.5 + 56)


@pytest.mark.parametrize('angle,scale,tx,ty', [(0.0, 1.0, 5.0, -3.0), (17.0, 2.5, 40.0, 12.0), (-120.0, 0.7, -8, 3)])
def test_recovers_known_similarity(angle: float, scale: float, tx: float, ty: float) -> None:
    a = np.deg2rad(angle)
    true = np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])
    src = ARCFACE_TEMPLATE_112
    dst = transform_points(src, true)
    assert np.allclose(estimate_similarity(src, dst), true, atol=1e-9)
    # with noise the estimate stays close
    rng = np.random.default_rng(0)
    noisy = dst + rng.normal(0, 0.01, dst.shape)
    assert np.allclose(estimate_similarity(src, noisy), true, atol=0.05)


def test_no_reflection_and_bad_input() -> None:
    src = ARCFACE_TEMPLATE_112
    mirrored = src * np.array([-1, 1])
    m = estimate_similarity(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0
    with pytest.raises(ValueError, match='coincide'):
        estimate_similarity(np.ones((5, 2)), src)
    with pytest.raises(ValueError, match=r'\(N, 2\)'):
        estimate_similarity(src[:, :1], src)


def test_warp_puts_landmarks_on_template() -> None:
    img = np.zeros((200, 200, 3), np.uint8)
    lms = transform_points(ARCFACE_TEMPLATE_112, np.array([[1.5, 0.2, 20], [-0.2, 1.5, 30]]))
    for x, y in lms:
        cv2.circle(img, (int(round(x)), int(round(y))), 3, (255, 255, 255), -1)
    out, m = warp_face(img, lms, 112)
    assert out.shape == (112, 112, 3)
    assert np.allclose(transform_points(lms, m), ARCFACE_TEMPLATE_112, atol=1e-6)
    for x, y in ARCFACE_TEMPLATE_112:
        assert out[int(round(y)), int(round(x))].max() > 100


def _planted_folder(root: str, lfw_img: str) -> dict[str, str]:
    os.makedirs(os.path.join(root, 'a'), exist_ok=True)
    face = Image.open(lfw_img).convert('RGB')
    face.save(os.path.join(root, 'a', 'ok.jpg'))
    face.convert('L').save(os.path.join(root, 'a', 'grey.png'))
    face.convert('RGBA').save(os.path.join(root, 'a', 'rgba.png'))
    face.convert('CMYK').save(os.path.join(root, 'a', 'cmyk.jpg'))
    open(os.path.join(root, 'a', 'empty.jpg'), 'wb').close()
    data = open(lfw_img, 'rb').read()
    with open(os.path.join(root, 'a', 'truncated.jpg'), 'wb') as f:
        f.write(data[:len(data) // 3])
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(os.path.join(root, 'a', 'noface.png'))
    return {'a/ok.jpg': 'detected', 'a/grey.png': 'detected', 'a/rgba.png': 'detected', 'a/cmyk.jpg': 'detected',
            'a/empty.jpg': 'unreadable', 'a/truncated.jpg': 'unreadable', 'a/noface.png': 'no_face'}


def test_tool_records_every_outcome_and_resumes(shared: str, tmp_path) -> None:  # noqa: ANN001
    lfw = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg')
    src, dst = str(tmp_path / 'in'), str(tmp_path / 'out')
    expected = _planted_folder(src, lfw)
    cfg = AlignConfig(os.path.join(shared, 'models', 'facexlib'))
    counts = align_images(sorted(expected), src, dst, cfg)
    assert counts == {'detected': 4, 'unreadable': 2, 'no_face': 1}
    with open(os.path.join(dst, 'manifest.csv')) as f:
        rows = {r['rel_path']: r for r in csv.DictReader(f)}
    assert {k: r['status'] for k, r in rows.items()} == expected
    assert 'empty.jpg' in rows['a/empty.jpg']['reason'] and rows['a/noface.png']['reason']
    for rel, status in expected.items():
        out = os.path.join(dst, os.path.splitext(rel)[0] + '.png')
        assert os.path.isfile(out) == (status == 'detected')
        if status == 'detected':
            assert cv2.imread(out).shape == (112, 112, 3)
            assert len(rows[rel]['landmarks'].split()) == 10 and float(rows[rel]['score']) > 0.9
    # resumable: nothing is redone, the manifest does not grow
    mtime = os.path.getmtime(os.path.join(dst, 'a', 'ok.png'))
    assert align_images(sorted(expected), src, dst, cfg) == counts
    assert os.path.getmtime(os.path.join(dst, 'a', 'ok.png')) == mtime
    with open(os.path.join(dst, 'manifest.csv')) as f:
        assert sum(1 for _ in f) == 1 + len(expected)


def test_aligned_face_redetects_on_template(shared: str) -> None:
    from fhgan_plugin.data.alignment import FaceDetector, pick_central, redetect_landmarks
    det = FaceDetector(os.path.join(shared, 'models', 'facexlib'))
    root = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled')
    to_tpl, to_carried = [], []
    for rel in ['Aaron_Eckhart/Aaron_Eckhart_0001.jpg', 'Zico/Zico_0001.jpg', 'Abba_Eban/Abba_Eban_0001.jpg']:
        bgr = cv2.imread(os.path.join(root, rel))
        face = pick_central(det.detect(bgr), bgr.shape)
        again, carried = redetect_landmarks(det, bgr, face.landmarks)
        to_tpl.append(np.linalg.norm(again - ARCFACE_TEMPLATE_112, axis=1).mean())
        to_carried.append(np.linalg.norm(again - carried, axis=1).mean())
    # RetinaFace vs the (MTCNN-made) template differ by ~2 px systematically; 500 LFW faces: mean 3.2 px
    assert np.mean(to_tpl) < 5.0 and max(to_tpl) < 8.0, to_tpl
    assert max(to_carried) < 4.0, to_carried


def test_missing_detector_weights_are_named(tmp_path) -> None:  # noqa: ANN001
    from fhgan_plugin.data.alignment import FaceDetector
    with pytest.raises(FileNotFoundError, match='detection_mobilenet0.25_Final.pth'):
        FaceDetector(str(tmp_path))
