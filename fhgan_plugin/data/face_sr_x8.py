"""The field's ×8 face-SR benchmark (16×16 → 128×128 on FSRNet's CelebA-1000 and Helen-50 test crops) and
training faces framed like it.

* :func:`prepare_benchmark`: per test set, the 16×16 inputs made from the 128×128 HR crops by MATLAB-style bicubic
  (BasicSR's ``imresize``, the papers' convention) saved as PNG, the 5 landmarks of every HR crop (RetinaFace, once)
  and, for CelebA-1000, the verification pairs built from its identity file (written once, then kept).
* ``template128.json`` (:func:`read_template`): the mean 5-point landmarks of the CelebA-1000 HR crops: the framing
  of the ×8 training faces.
* :func:`prepare_training`: the CelebA subset minus every photo that shows a CelebA-1000 person
  (``overlap_with_celeba_id299.txt``) plus the LFW people never in ``pairs.txt``, aligned to that template at
  128×128 from the landmarks the 112×112 preparation recorded (no second detection).

Paths and file formats: ``scripts/prepare_data.py`` (sets ``x8_benchmark`` and ``x8_train``).
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from tqdm import tqdm

from fhgan_plugin.data.alignment import FaceDetector, arcface_template, estimate_similarity, pick_central
from fhgan_plugin.data.degradation import matlab_bicubic_degradation
from fhgan_plugin.data.pairs import Pair, parse_pairs_list, write_pairs_list
from fhgan_plugin.data.validation_split import make_validation_pairs

logger = logging.getLogger('fhgan_plugin')

#: The two test sets: folder of 128×128 HR crops under ``../shared/data/face_sr_x8``.
X8_SETS = {'celeba1000': 'celeba_val_1000_HR', 'helen50': 'helen_val_50_HR'}
X8_SIZE, X8_SCALE = 128, 8
#: Context added around a 128×128 crop before detection (RetinaFace misses faces that fill the frame).
DETECT_PAD = 64
#: sha256 of the CelebA-1000 pairs file this project evaluates on (seed 0, 10 identity-disjoint folds): a
#: re-generated file must be identical, so every reported number uses the same pairs.
CELEBA1000_PAIRS_SHA256 = 'a2c36cba7c8c0785b63dd418b2d58fb23120e3ab0b4ce97ef5519fd774a9c885'


def detect_crop_landmarks(det: FaceDetector, bgr: np.ndarray, pad: int = DETECT_PAD,
                          threshold: float = 0.5) -> tuple[np.ndarray | None, float]:
    """5 landmarks of the face of a tight face crop, detected with ``pad`` black pixels of context on every side.

    Returns:
        (5, 2) landmarks in crop pixels (None when no face is found) and the detection score.
    """
    big = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    face = pick_central(det.detect(big, threshold), big.shape)
    if face is None:
        return None, 0.0
    return face.landmarks - pad, face.score


def read_landmarks(path: str) -> dict[str, np.ndarray]:
    """``{file: (5, 2) landmarks}`` of a landmarks CSV written by :func:`prepare_benchmark`."""
    out = {}
    with open(path, newline='') as f:
        for row in csv.DictReader(f):
            out[row['file']] = np.array([float(v) for v in row['landmarks'].split()]).reshape(5, 2)
    return out


#: Sub-folder of ``faces128_x8/`` holding the training / validation faces aligned to the Helen-50 framing.
HELEN_FRAMING_DIR = 'helen50_framing'


def helen_template(x8_out: str) -> np.ndarray:
    """The (5, 2) mean landmarks of the detected Helen-50 HR crops (``<x8_out>/template128_helen50.json``, written
    from ``helen50_landmarks.csv`` on first use). Helen's faces are framed larger and higher than CelebA-1000's
    (eye distance ~45 vs ~35 px, centre ~8 px higher): the benchmark has two framings, not one."""
    path = os.path.join(x8_out, 'template128_helen50.json')
    if not os.path.isfile(path):
        lm_path = os.path.join(x8_out, 'helen50_landmarks.csv')
        if not os.path.isfile(lm_path):
            raise FileNotFoundError(f'{lm_path} not found: run python scripts/prepare_data.py --sets x8_benchmark')
        with open(lm_path, newline='') as f:
            rows = [r for r in csv.DictReader(f) if r['status'] == 'detected']
        if not rows:
            raise ValueError(f'{lm_path} has no detected face')
        mean = np.mean([np.array([float(v) for v in r['landmarks'].split()]) for r in rows], axis=0)
        with open(path, 'w') as f:
            json.dump({'size': X8_SIZE, 'landmarks': np.round(mean.reshape(5, 2), 3).tolist(),
                       'source': f'mean RetinaFace landmarks of the {len(rows)} detected Helen-50 HR crops'}, f,
                      indent=1)
    return read_template(path)


def read_template(path: str) -> np.ndarray:
    """The (5, 2) landmarks of the ×8 framing (``template128.json``: the mean landmarks of the CelebA-1000 crops)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} not found: run python scripts/prepare_data.py --sets x8_benchmark')
    with open(path) as f:
        return np.asarray(json.load(f)['landmarks'], dtype=np.float64)


def arcface_warps(landmarks: np.ndarray) -> np.ndarray:
    """(N, 2, 3) similarity transforms taking faces with (N, 5, 2) ``landmarks`` to the ArcFace 112×112 framing
    (what the FR network expects); SR and HR faces of one image share it."""
    dst = arcface_template(112)
    return np.stack([estimate_similarity(lm, dst) for lm in landmarks]).astype(np.float32)


def identity_pairs(identities: dict[str, str], n_folds: int = 10, seed: int = 0) -> list[Pair]:
    """Verification pairs of a labelled test set: every same-person pair, as many different-person pairs,
    identity-disjoint folds (:func:`~fhgan_plugin.data.validation_split.make_validation_pairs`).

    Args:
        identities: ``{file: identity}``.
    """
    by_id: dict[str, list[str]] = {}
    for f in sorted(identities):
        by_id.setdefault(identities[f], []).append(f)
    order = sorted(by_id, key=lambda k: (int(k) if k.isdigit() else k))
    return make_validation_pairs({k: by_id[k] for k in order}, n_folds=n_folds, same_per_identity=10**9, seed=seed)


def _read_identities(path: str) -> dict[str, str]:
    out = {}
    with open(path) as f:
        for lineno, ln in enumerate(f, 1):
            if not ln.strip() or ln.startswith('#'):
                continue
            parts = ln.split()
            if len(parts) != 2:
                raise ValueError(f'{path}:{lineno}: expected "<file> <identity>", got {ln.rstrip()!r}')
            out[parts[0]] = parts[1]
    return out


def file_sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def prepare_benchmark(x8_root: str, out: str, detector_root: str) -> dict:
    """Make ``out/<set>_LR16/*.png``, ``out/<set>_landmarks.csv``, ``out/celeba1000_pairs.txt`` and
    ``out/template128.json`` from the shared ×8 test sets (idempotent; the pairs file is never rewritten)."""
    os.makedirs(out, exist_ok=True)
    det = None
    report: dict = {}
    detected: dict[str, tuple[str, list[str], list[dict]]] = {}
    for name, folder in X8_SETS.items():
        src = os.path.join(x8_root, folder)
        if not os.path.isdir(src):
            raise FileNotFoundError(f'×8 test set folder not found: {src} (see ../shared/README.md)')
        files = sorted(f for f in os.listdir(src) if f.lower().endswith(('.jpg', '.png')))
        lr_dir = os.path.join(out, f'{name}_LR16')
        os.makedirs(lr_dir, exist_ok=True)
        lm_path = os.path.join(out, f'{name}_landmarks.csv')
        have_lm = os.path.isfile(lm_path)
        rows: list[dict] = []
        for f in tqdm(files, desc=f'×8 benchmark {name}', unit='img'):
            bgr = cv2.imread(os.path.join(src, f), cv2.IMREAD_COLOR)
            if bgr is None or bgr.shape[:2] != (X8_SIZE, X8_SIZE):
                raise ValueError(f'{os.path.join(src, f)}: expected a readable {X8_SIZE}x{X8_SIZE} image')
            lr_path = os.path.join(lr_dir, os.path.splitext(f)[0] + '.png')
            if not os.path.isfile(lr_path):
                hr = torch.from_numpy(bgr[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255
                lq = (matlab_bicubic_degradation(hr, X8_SCALE) * 255).round().to(torch.uint8)
                cv2.imwrite(lr_path, lq.permute(1, 2, 0).numpy()[:, :, ::-1])
            if not have_lm:
                if det is None:
                    det = FaceDetector(detector_root)
                lms, score = detect_crop_landmarks(det, bgr)
                if lms is None:
                    continue
                rows.append({'file': f, 'status': 'detected', 'score': f'{score:.4f}',
                             'landmarks': ' '.join(f'{v:.2f}' for v in lms.ravel())})
        if not have_lm:
            detected[name] = (lm_path, files, rows)
        report[name] = {'images': len(files)}
    # the template is the mean of the detected CelebA-1000 landmarks; a crop without a detected face gets it
    # (status 'fallback'), so every test image has a warp to the ArcFace framing
    tpl_path = os.path.join(out, 'template128.json')
    if 'celeba1000' in detected:
        template = np.mean([np.array([float(v) for v in r['landmarks'].split()]) for r in detected['celeba1000'][2]],
                           axis=0)
        with open(tpl_path, 'w') as f:
            json.dump({'size': X8_SIZE, 'landmarks': np.round(template.reshape(5, 2), 3).tolist(),
                       'source': 'mean RetinaFace landmarks of the detected CelebA-1000 HR crops'}, f, indent=1)
    template = read_template(tpl_path)
    for lm_path, files, rows in detected.values():
        found = {r['file'] for r in rows}
        rows += [{'file': f, 'score': '0.0000', 'status': 'fallback',
                  'landmarks': ' '.join(f'{v:.2f}' for v in template.ravel())} for f in files if f not in found]
        rows.sort(key=lambda r: r['file'])
        with open(lm_path, 'w', newline='') as fh:
            w = csv.DictWriter(fh, fieldnames=['file', 'status', 'score', 'landmarks'])
            w.writeheader()
            w.writerows(rows)
    for name in X8_SETS:
        with open(os.path.join(out, f'{name}_landmarks.csv'), newline='') as fh:
            status = [r['status'] for r in csv.DictReader(fh)]
        report[name].update(detected=status.count('detected'), fallback=status.count('fallback'))
    pairs_path = os.path.join(out, 'celeba1000_pairs.txt')
    if not os.path.isfile(pairs_path):
        ids = _read_identities(os.path.join(x8_root, 'celeba_val_1000_identities.txt'))
        write_pairs_list(pairs_path, identity_pairs(ids))
    pairs = parse_pairs_list(pairs_path)
    report['celeba1000_pairs'] = {'pairs': len(pairs), 'same': sum(p.issame for p in pairs),
                                  'sha256': file_sha256(pairs_path)}
    if CELEBA1000_PAIRS_SHA256 and report['celeba1000_pairs']['sha256'] != CELEBA1000_PAIRS_SHA256:
        raise ValueError(f'{pairs_path} differs from the pairs every reported number used (sha256 '
                         f'{CELEBA1000_PAIRS_SHA256}); delete it to re-create it')
    return report


def read_overlap(path: str) -> set[str]:
    """Photos of the CelebA subset that show a CelebA-1000 person, as ``<identity>/<file>`` (never trained on)."""
    out = set()
    with open(path) as f:
        for ln in f:
            if ln.strip() and not ln.startswith('#'):
                rel = ln.split()[0]
                out.add(rel.split('/', 1)[1] if rel.startswith('celeba_id299/') else rel)
    return out


def prepare_training(sources: Sequence[tuple[str, str, str]], out_root: str, template: np.ndarray,
                     exclude: set[str] = frozenset(), size: int = X8_SIZE) -> dict[str, list[str]]:
    """Align training photos to ``template`` at ``size`` from the landmarks of their 112×112 manifests.

    Args:
        sources: ``(name, photo root, manifest.csv of the 112×112 preparation)`` per set.
        out_root: Output folder (``<name>/<rel stem>.png``).
        template: (5, 2) landmarks of the target framing in ``size`` pixels.
        exclude: ``<rel>`` of photos never to use (for CelebA: the overlap with the test set).

    Returns:
        ``{name: [relative output paths]}`` of the aligned faces (excluded and undetected photos left out).
    """
    from fhgan_plugin.data.prepare import read_manifest, read_rgb
    done: dict[str, list[str]] = {}
    for name, root, manifest in sources:
        rows = read_manifest(manifest)
        if not rows:
            raise FileNotFoundError(f'{manifest} not found or empty: run scripts/prepare_data.py --sets {name} first')
        outs = []
        for rel, row in tqdm(sorted(rows.items()), desc=f'×8 training faces {name}', unit='img'):
            if rel in exclude or not row['landmarks']:
                continue
            dst_rel = f'{name}/{os.path.splitext(rel)[0]}.png'
            dst = os.path.join(out_root, dst_rel)
            if not os.path.isfile(dst):
                lms = np.array([float(v) for v in row['landmarks'].split()]).reshape(5, 2)
                img = read_rgb(os.path.join(root, rel))[:, :, ::-1]
                mat = estimate_similarity(lms, template)
                face = cv2.warpAffine(np.ascontiguousarray(img), mat, (size, size), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                cv2.imwrite(dst, face)
            outs.append(dst_rel)
        done[name] = outs
    return done
