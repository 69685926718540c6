"""Align folders of face photos into a cache of 112x112 PNGs, with a manifest, resumably.

``align_images`` is the importable tool; ``prepare_shared`` rebuilds everything this project trains
and evaluates on from the read-only ``../shared`` data (LFW pairs images, LFW people not in the pairs,
the CelebA identity subset).
"""
from __future__ import annotations

import csv
import logging
import multiprocessing as mp
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from fhgan_plugin.data.alignment import LFW_MEAN_LANDMARKS_250, FaceDetector, pick_central, warp_face

logger = logging.getLogger('fhgan_plugin')

MANIFEST_FIELDS = ['rel_path', 'out_path', 'status', 'reason', 'score', 'landmarks']

#: Outcomes recorded in the manifest. ``detected``: a face at the normal threshold; ``detected_low``: found
#: only at the low threshold; ``fallback``: no face, aligned with the mean LFW landmarks (only when
#: ``fallback=True`` and the image is 250x250 LFW-framed); the rest are failures with no output.
STATUSES = ('detected', 'detected_low', 'fallback', 'no_face', 'unreadable')


@dataclass(frozen=True)
class AlignConfig:
    """Options of the alignment tool."""
    detector_root: str
    size: int = 112
    template_scale: float = 1.0
    conf_threshold: float = 0.9
    low_conf_threshold: float = 0.3
    fallback: bool = False
    all_faces: bool = False


def read_rgb(path: str) -> np.ndarray:
    """Read any image PIL can decode (grey, CMYK, RGBA, palette…) as (H, W, 3) uint8 RGB.

    Raises:
        ValueError: naming the file when it is empty, truncated or not an image.
    """
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode != 'RGB':
                im = im.convert('RGB')
            arr = np.asarray(im, dtype=np.uint8).copy()
    except Exception as err:  # PIL raises many types for broken files
        raise ValueError(f'cannot read image {path}: {type(err).__name__}: {err}') from err
    return arr


_WORKER: dict = {}


def _init_worker(cfg: AlignConfig, single_thread: bool = True) -> None:
    if single_thread:  # pool workers: one thread each, the pool supplies the parallelism
        import torch
        torch.set_num_threads(1)
    _WORKER['det'] = FaceDetector(cfg.detector_root)
    _WORKER['cfg'] = cfg


def _align_one(job: tuple[str, str, str]) -> dict:
    rel, src, dst = job
    det: FaceDetector = _WORKER['det']
    cfg: AlignConfig = _WORKER['cfg']
    row = {'rel_path': rel, 'out_path': '', 'status': '', 'reason': '', 'score': '', 'landmarks': ''}
    try:
        rgb = read_rgb(src)
    except ValueError as err:
        row.update(status='unreadable', reason=str(err))
        return row
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    if cfg.all_faces:
        return _align_all(row, bgr, dst, det, cfg)
    face = pick_central(det.detect(bgr, cfg.conf_threshold), bgr.shape)
    status = 'detected'
    if face is None:
        face = pick_central(det.detect(bgr, cfg.low_conf_threshold), bgr.shape)
        status = 'detected_low'
    if face is None:
        if cfg.fallback and bgr.shape[:2] == (250, 250):
            lms, score, status = LFW_MEAN_LANDMARKS_250, 0.0, 'fallback'
        else:
            row.update(status='no_face', reason=f'no face at threshold {cfg.low_conf_threshold}')
            return row
    else:
        lms, score = face.landmarks, face.score
    out, _ = warp_face(bgr, lms, cfg.size, cfg.template_scale)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not cv2.imwrite(dst, out):
        row.update(status='unreadable', reason=f'could not write {dst}')
        return row
    row.update(out_path=dst, status=status, score=f'{score:.4f}',
               landmarks=' '.join(f'{v:.2f}' for v in np.asarray(lms).ravel()))
    return row


def _align_all(row: dict, bgr: np.ndarray, dst: str, det: FaceDetector, cfg: AlignConfig) -> dict:
    faces = det.detect(bgr, cfg.conf_threshold)
    if not faces:
        row.update(status='no_face', reason=f'no face at threshold {cfg.conf_threshold}')
        return row
    stem = os.path.splitext(dst)[0]
    outs = []
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    for k, face in enumerate(faces):
        out, _ = warp_face(bgr, face.landmarks, cfg.size, cfg.template_scale)
        path = f'{stem}_{k}.png'
        cv2.imwrite(path, out)
        outs.append(path)
    row.update(out_path=';'.join(outs), status='detected', reason=f'{len(faces)} faces',
               score=';'.join(f'{f.score:.4f}' for f in faces),
               landmarks=';'.join(' '.join(f'{v:.2f}' for v in f.landmarks.ravel()) for f in faces))
    return row


def read_manifest(path: str) -> dict[str, dict]:
    """Rows of a manifest CSV keyed by ``rel_path`` (empty when the file does not exist)."""
    if not os.path.isfile(path):
        return {}
    with open(path, newline='') as f:
        return {r['rel_path']: r for r in csv.DictReader(f)}


def align_images(rel_paths: Sequence[str],
                 in_root: str,
                 out_root: str,
                 cfg: AlignConfig,
                 manifest: str | None = None,
                 workers: int = 1,
                 desc: str = 'align') -> Counter:
    """Align ``in_root/<rel>`` to ``out_root/<rel stem>.png``; resumable through the manifest.

    Every input gets one manifest row (status, reason, score, landmarks); images already recorded
    with an existing output are skipped, so an interrupted run continues where it stopped.

    Returns:
        Counter of statuses over all ``rel_paths`` (the skipped ones included).
    """
    manifest = manifest or os.path.join(out_root, 'manifest.csv')
    done = read_manifest(manifest)
    jobs = []
    for rel in rel_paths:
        r = done.get(rel)
        if r is not None and (r['status'] in ('no_face', 'unreadable') or os.path.isfile(r['out_path'].split(';')[0])):
            continue
        jobs.append((rel, os.path.join(in_root, rel), os.path.join(out_root, os.path.splitext(rel)[0] + '.png')))
    os.makedirs(out_root, exist_ok=True)
    new_file = not os.path.isfile(manifest)
    with open(manifest, 'a', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        if new_file:
            writer.writeheader()
        if jobs:
            if workers > 1:
                ctx = mp.get_context('spawn')
                with ctx.Pool(workers, initializer=_init_worker, initargs=(cfg, )) as pool:
                    rows: Iterable[dict] = pool.imap(_align_one, jobs, chunksize=8)
                    for row in tqdm(rows, total=len(jobs), desc=desc):
                        writer.writerow(row)
                        done[row['rel_path']] = row
            else:
                _init_worker(cfg, single_thread=False)
                for job in tqdm(jobs, desc=desc):
                    row = _align_one(job)
                    writer.writerow(row)
                    done[row['rel_path']] = row
    counts = Counter(done[r]['status'] for r in rel_paths if r in done)
    for r in rel_paths:
        if done.get(r, {}).get('status') in ('no_face', 'unreadable'):
            logger.warning('%s: %s (%s)', desc, done[r]['status'], done[r]['reason'])
    return counts
