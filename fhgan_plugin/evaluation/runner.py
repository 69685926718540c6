"""The evaluation loop: per method, SR of every unique image once (batched), then PSNR/SSIM, LPIPS and the
FR embedding of each SR face; verification metrics from the embeddings. Results are cached per method
(keyed by the method's checkpoint content, the test set, the FR network and the metric options).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fhgan_plugin.archs.face_recognizer import fold_batchnorm
from fhgan_plugin.data.alignment import warp_affine_batch
from fhgan_plugin.data.degradation import DEGRADATIONS, degrade
from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
from fhgan_plugin.data.pairs import Pair
from fhgan_plugin.data.verification_dataset import VerificationPairsDataset
from fhgan_plugin.errors import InputError
from fhgan_plugin.evaluation.methods import Method
from fhgan_plugin.metrics.verification import (
    kfold_verification,
    pair_arrays,
    pair_scores,
    roc_auc,
    roc_curve,
    tar_at_far,
)
from fhgan_plugin.utils.io import DigestCache, save_torch
from fhgan_plugin.utils.metrics import psnr_ssim_batch, to_uint8

logger = logging.getLogger('fhgan_plugin')


@dataclass
class TestSet:
    """Aligned HR faces held as uint8 (N, 3, H, W) with their uint8 LR, and optional pairs.

    ``fr_warp`` (N, 2, 3), when set, takes each image (SR and HR alike) to the ArcFace 112×112 framing the FR
    network expects (the ×8 benchmark's crops are not ArcFace-aligned); None: the faces are already in it.
    """

    name: str
    images: list[str]
    hr: torch.Tensor
    lq: torch.Tensor
    pairs: list[Pair] | None = None
    key: str = ''
    fr_warp: torch.Tensor | None = None

    @property
    def pair_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return pair_arrays(self.images, self.pairs or [])


def balanced_subset(pairs: list[Pair], limit: int) -> list[Pair]:
    """About ``limit`` pairs in protocol order, the same number from every (fold, same/different) group,
    so that the k-fold protocol still has every fold and both classes."""
    groups: dict[tuple[int, bool], list[Pair]] = {}
    for p in pairs:
        groups.setdefault((p.fold, p.issame), []).append(p)
    per = max(1, limit // max(1, len(groups)))
    keep = {id(p) for g in groups.values() for p in g[:per]}
    return [p for p in pairs if id(p) in keep]


def load_test_set(root: str, pairs_file: str | None = None, pairs_kind: str = 'lfw', cfp_setting: str = 'FP',
                  name: str | None = None, scale: int = 4, limit: int | None = None,
                  digest_cache: str | None = None, degradation: str = 'bilinear',
                  fr_landmarks: dict[str, np.ndarray] | None = None, ext: str = '.png',
                  every_image: bool = False) -> TestSet:
    """Read every unique image of a pairs protocol (or every image under ``root``) and degrade it once.

    ``limit`` (>= 1) keeps about ``limit`` pairs (:func:`balanced_subset`) or the first ``limit`` images.
    ``degradation`` names how the LR is made (:data:`~fhgan_plugin.data.degradation.DEGRADATIONS`);
    ``fr_landmarks`` (``{image: (5, 2)}``, every image) sets :attr:`TestSet.fr_warp`; ``ext`` is the extension of
    the image files, replacing the pairs file's. ``every_image``: with a pairs file, still take every image under
    ``root`` (PSNR / SSIM / LPIPS over all of them; verification over the pairs), as the ×8 benchmark does.
    The test set's cache key digests the *content* of every image and of the pairs file, so results cached
    for other files with the same names are never reused; ``digest_cache`` (a JSON file) remembers the file
    digests by size and modification time, so a re-run hashes only changed files.

    Raises:
        InputError: ``limit`` < 1.
    """
    if limit is not None and limit < 1:
        raise InputError(f'limit must be >= 1 (or None for everything), got {limit}')
    if degradation not in DEGRADATIONS:
        raise InputError(f'degradation {degradation!r} is not one of {sorted(DEGRADATIONS)}')
    if pairs_file:
        ds = VerificationPairsDataset({'dataroot_gt': root, 'pairs_file': pairs_file, 'pairs_kind': pairs_kind,
                                       'cfp_setting': cfp_setting, 'scale': scale, 'ext': ext})
        pairs = balanced_subset(ds.pairs, limit) if limit else ds.pairs
        images = sorted({p.path1 for p in pairs} | {p.path2 for p in pairs})
        load_gt, index_of = ds.faces.load_gt, ds.index_of
    if pairs_file and every_image:
        if limit:
            raise InputError('limit and every_image exclude each other')
        faces = FaceSRDataset({'dataroot_gt': root, 'scale': scale, 'phase': 'val'})
        images = [os.path.relpath(p, root) for p in faces.paths]
        index = {r: i for i, r in enumerate(images)}
        load_gt, index_of = faces.load_gt, index.__getitem__
    elif not pairs_file:
        faces = FaceSRDataset({'dataroot_gt': root, 'scale': scale, 'phase': 'val'})
        pairs = None
        images = [os.path.relpath(p, root) for p in faces.paths][:limit] if limit else \
            [os.path.relpath(p, root) for p in faces.paths]
        index = {r: i for i, r in enumerate(os.path.relpath(p, root) for p in faces.paths)}
        load_gt, index_of = faces.load_gt, index.__getitem__
    hr = read_hr_uint8(load_gt, [index_of(rel) for rel in images], desc=f'reading {name or root}')
    lq = degrade_uint8(hr, scale, degradation)
    fr_warp = None
    if fr_landmarks is not None:
        from fhgan_plugin.data.face_sr_x8 import arcface_warps
        lost = [r for r in images if r not in fr_landmarks]
        if lost:
            raise InputError(f'{len(lost)} test images have no landmarks for the FR warp, e.g. {lost[:3]}')
        fr_warp = torch.from_numpy(arcface_warps(np.stack([fr_landmarks[r] for r in images])))
    digests = DigestCache(digest_cache)
    digest = hashlib.sha256(digests.files_digest(root, images).encode())
    if pairs_file:
        pair_files = [pairs_file] if os.path.isfile(pairs_file) else \
            sorted(os.path.join(d, f) for d, _, fs in os.walk(pairs_file) for f in fs)
        for f in pair_files:
            digest.update(f'{os.path.relpath(f, pairs_file) if f != pairs_file else ""}\0'.encode())
            digest.update(digests.digest(f).encode())
        digests.save()
    digest.update(str((pairs_kind, cfp_setting, scale, len(pairs or []))).encode())
    if degradation != 'bilinear':
        digest.update(degradation.encode())
    if fr_warp is not None:
        digest.update(fr_warp.numpy().tobytes())
    return TestSet(name or os.path.basename(os.path.normpath(root)), images, hr, lq,
                   pairs, digest.hexdigest()[:16], fr_warp)


def read_hr_uint8(load_gt: Callable[[int], tuple[torch.Tensor, str]], indices: list[int], desc: str = 'reading',
                  workers: int = 2) -> torch.Tensor:
    """(N, 3, H, W) uint8 HR faces read by ``load_gt(index)`` (a FaceSRDataset's checked reader) on ``workers``
    threads (OpenCV decodes without the GIL), in the order of ``indices``."""
    def read(i: int) -> torch.Tensor:
        return (load_gt(i)[0] * 255).round().to(torch.uint8)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        out = list(tqdm(pool.map(read, indices), total=len(indices), desc=desc, unit='img', leave=False))
    return torch.stack(out)


def degrade_uint8(hr: torch.Tensor, scale: int = 4, degradation: str = 'bilinear', batch: int = 256) -> torch.Tensor:
    """The uint8 LR of (N, 3, H, W) uint8 HR faces, computed in batches (the same values as one
    :func:`~fhgan_plugin.data.degradation.degrade` call per image)."""
    out = [(degrade(hr[s:s + batch].float() / 255, scale, degradation) * 255).round().to(torch.uint8)
           for s in range(0, len(hr), batch)]
    return torch.cat(out)


@dataclass
class MethodResult:
    """Per-image metrics and embeddings of one method, plus the seconds it took."""

    label: str
    psnr: np.ndarray | None
    ssim: np.ndarray | None
    lpips: np.ndarray | None
    emb: torch.Tensor | None
    seconds: float
    cached: bool = False
    summary: dict[str, Any] = field(default_factory=dict)


def _tensor(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else torch.from_numpy(np.asarray(a))


def load_cached(path: str | None) -> Any:
    """A cache file's content with ``torch.load(weights_only=True)`` (tensors and numbers only, so a planted
    pickle cannot run code), or None when there is none or it cannot be read safely (it is then recomputed
    and overwritten, with a warning naming it)."""
    if not path or not os.path.isfile(path):
        return None
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable or unsafe cache file is a miss
        logger.warning('ignoring cache file %s (%s: %s); recomputing it', path, type(err).__name__,
                       str(err).splitlines()[0] if str(err) else '')
        return None


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.numpy()


def slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', text).strip('_') or 'method'


class Evaluator:
    """Runs methods over a :class:`TestSet` (see module docstring).

    Args:
        fr: FR network returning embeddings of (N, 3, 112, 112) [0, 1] faces, or None (no verification).
        fr_key: What identifies ``fr`` in the cache key (options + weights digest).
        lpips: Module returning (N,) LPIPS distances of two [0, 1] batches, or None.
        lpips_images: LPIPS-VGG costs ~8 GMACs per 112x112 pair (minutes per thousand faces on 2 CPU cores):
            compute it on this many images, evenly spaced (None: all).
        cache_dir: Where per-method results are kept (None: no cache).
        batch_size: Faces per forward pass.
        test_y_channel: PSNR/SSIM on the Y channel instead of RGB.
        device: Where SR networks, FR and LPIPS run.
        crop_border: Pixels cut from every border before PSNR/SSIM (0: the project's protocol; the ×8 benchmark
            uses 8, the scale, as BasicSR's ``crop_border``).
    """

    def __init__(self, fr: nn.Module | None = None, fr_key: str = '', lpips: nn.Module | None = None,
                 cache_dir: str | None = None, batch_size: int = 64, test_y_channel: bool = False,
                 device: torch.device | str = 'cpu', lpips_images: int | None = None, crop_border: int = 0) -> None:
        self.device = torch.device(device)
        # BatchNorm folded into the convolutions, channels-last: the same embeddings to float rounding, faster
        self.fr = fold_batchnorm(fr).to(self.device, memory_format=torch.channels_last) if fr is not None else None
        self.fr_key = fr_key
        self.lpips = lpips.eval().to(self.device) if lpips is not None else None
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.test_y_channel = test_y_channel
        self.lpips_images = lpips_images
        self.crop_border = crop_border
        self._sr_memory: dict[str, torch.Tensor] = {}

    def lpips_mask(self, n: int) -> np.ndarray:
        """Which of ``n`` images get an LPIPS value (evenly spaced when ``lpips_images`` < n)."""
        mask = np.zeros(n, dtype=bool)
        if self.lpips is not None:
            k = n if not self.lpips_images else min(n, self.lpips_images)
            mask[np.unique(np.linspace(0, n - 1, k).round().astype(int))] = True
        return mask

    def cache_path(self, method: Method, testset: TestSet) -> str | None:
        if not self.cache_dir:
            return None
        parts = [method.cache_key(), testset.key, self.fr_key if self.fr else 'nofr', str(self.lpips is not None),
                 str(self.lpips_images), str(self.test_y_channel)]
        if self.crop_border:
            parts.append(f'crop{self.crop_border}')
        key = hashlib.sha256('|'.join(parts).encode())
        return os.path.join(self.cache_dir, f'{slug(method.label)}-{key.hexdigest()[:16]}.pt')

    def sr_cache_path(self, method: Method, testset: TestSet) -> str | None:
        """Where a network method's uint8 SR faces are kept (one file per method, checkpoint and test set)."""
        if not self.cache_dir or method.kind != 'network':
            return None
        key = hashlib.sha256('|'.join([method.cache_key(), testset.key]).encode()).hexdigest()[:16]
        return os.path.join(self.cache_dir, f'{slug(method.label)}-sr-{key}.pt')

    @torch.no_grad()
    def sr_faces(self, method: Method, testset: TestSet) -> torch.Tensor | None:
        """All (N, 3, H, W) uint8 SR faces of a network method, computed once and cached on disk, so that FR
        networks added later cost only their own forward passes (None for baselines and HR: cheap to redo)."""
        if method.kind != 'network':
            return None
        mem_key = method.cache_key() + testset.key
        if mem_key in self._sr_memory:
            return self._sr_memory[mem_key]
        self._sr_memory.clear()  # keep one method's faces in memory (~0.3 GB for the 7,701 LFW images)
        path = self.sr_cache_path(method, testset)
        cached = load_cached(path)
        if isinstance(cached, torch.Tensor):
            self._sr_memory[mem_key] = cached
            return cached
        method.load(self.device)
        out = []
        for s in tqdm(range(0, len(testset.images), self.batch_size), desc=f'{method.label} (SR)', unit='batch',
                      leave=False):
            gt = testset.hr[s:s + self.batch_size].float() / 255
            out.append((method.super_resolve(testset.lq[s:s + self.batch_size].float() / 255, gt) * 255)
                       .round().to(torch.uint8))
        faces = self._sr_memory[mem_key] = torch.cat(out)
        if path:
            save_torch(faces, path)
        return faces

    def sr_batch(self, method: Method, testset: TestSet, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(gt, sr) of images ``start : start + batch_size`` as uint8 (every method's output is on the uint8 grid)."""
        gt = testset.hr[start:start + self.batch_size]
        cached = self.sr_faces(method, testset)
        if cached is not None:
            return gt, cached[start:start + self.batch_size]
        return gt, to_uint8(method.super_resolve(testset.lq[start:start + self.batch_size].float() / 255,
                                                 gt.float() / 255))

    def fr_input(self, faces: torch.Tensor, testset: TestSet, start: int) -> torch.Tensor:
        """(N, 3, H, W) [0, 1] faces ``start : start + N`` as the FR network's input: warped to the ArcFace framing
        when the test set says so (:attr:`TestSet.fr_warp`), on the device, channels-last."""
        x = faces.to(self.device)
        if testset.fr_warp is not None:
            x = warp_affine_batch(x, testset.fr_warp[start:start + len(faces)], 112)
        return x.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def run_method(self, method: Method, testset: TestSet) -> MethodResult:
        """Per-image PSNR / SSIM / LPIPS and embeddings of one method (cached). PSNR / SSIM (BasicSR's OpenCV
        code, which releases the GIL) run on a second thread, overlapped with the LPIPS and FR passes."""
        path = self.cache_path(method, testset)
        c = load_cached(path)
        if isinstance(c, dict):
            logger.info('%s: cached results %s', method.label, path)
            return MethodResult(method.label, _numpy(c['psnr']), _numpy(c['ssim']), _numpy(c['lpips']), c['emb'],
                                float(c['seconds']), cached=True)
        start = time.perf_counter()
        is_hr = method.kind == 'hr'
        metrics, lp, embs = [], [], []
        n = len(testset.images)
        lp_mask = torch.from_numpy(self.lpips_mask(n))
        lp_sr: list[torch.Tensor] = []  # LPIPS faces gathered across batches: VGG runs at batch_size, not ~1 face
        lp_gt: list[torch.Tensor] = []

        def flush_lpips(final: bool = False) -> None:
            while lp_sr and (final or sum(len(t) for t in lp_sr) >= self.batch_size):
                a, b = torch.cat(lp_sr), torch.cat(lp_gt)
                lp_sr.clear()
                lp_gt.clear()
                k = len(a) if final else self.batch_size
                x, y = (a[:k].float() / 255).to(self.device), (b[:k].float() / 255).to(self.device)
                lp.append(self.lpips(x, y).cpu())
                if k < len(a):
                    lp_sr.append(a[k:])
                    lp_gt.append(b[k:])
        with ThreadPoolExecutor(1) as pool:
            for s in tqdm(range(0, n, self.batch_size), desc=method.label, unit='batch', leave=False):
                gt8, sr8 = self.sr_batch(method, testset, s)
                sr = sr8.float() / 255
                if not is_hr:
                    metrics.append(pool.submit(psnr_ssim_batch, sr8, gt8, self.crop_border, self.test_y_channel))
                    sel = lp_mask[s:s + self.batch_size]
                    if self.lpips is not None and sel.any():
                        lp_sr.append(sr8[sel])
                        lp_gt.append(gt8[sel])
                        flush_lpips()
                if self.fr is not None:
                    x = self.fr_input(sr, testset, s)
                    embs.append(nn.functional.normalize(self.fr(x).float(), dim=1).cpu())
            if not is_hr:
                flush_lpips(final=True)
            psnr = [v for f in metrics for v in f.result()[0]]
            ssim = [v for f in metrics for v in f.result()[1]]
        res = MethodResult(method.label, None if is_hr else np.array(psnr), None if is_hr else np.array(ssim),
                           torch.cat(lp).numpy() if lp else None, torch.cat(embs) if embs else None,
                           time.perf_counter() - start)
        if path:
            save_torch({'psnr': _tensor(res.psnr), 'ssim': _tensor(res.ssim), 'lpips': _tensor(res.lpips),
                        'emb': res.emb, 'seconds': res.seconds, 'label': method.label}, path)
        return res

    @torch.no_grad()
    def extra_embeddings(self, method: Method, testset: TestSet, fr: nn.Module, fr_key: str) -> torch.Tensor:
        """L2-normalised embeddings of every SR face by a further FR network (cached on their own, so adding an
        FR to an evaluation recomputes only that FR on the cached SR faces, never SR / PSNR / SSIM / LPIPS)."""
        path = None
        if self.cache_dir:
            key = hashlib.sha256('|'.join([method.cache_key(), testset.key, fr_key]).encode()).hexdigest()[:16]
            path = os.path.join(self.cache_dir, f'{slug(method.label)}-fr-{key}.pt')
            cached = load_cached(path)
            if isinstance(cached, torch.Tensor):
                return cached
        fr = fold_batchnorm(fr).to(self.device, memory_format=torch.channels_last)
        embs = []
        for s in tqdm(range(0, len(testset.images), self.batch_size), desc=f'{method.label} (extra FR)',
                      unit='batch', leave=False):
            _, sr = self.sr_batch(method, testset, s)
            x = self.fr_input(sr.float() / 255, testset, s)
            embs.append(nn.functional.normalize(fr(x).float(), dim=1).cpu())
        emb = torch.cat(embs)
        if path:
            save_torch(emb, path)
        return emb

    @staticmethod
    def verification_columns(emb: torch.Tensor, testset: TestSet, label: str) -> dict[str, float]:
        """``acc@label``, ``acc_std@label`` and the per-fold ``acc_folds@label`` (10-fold protocol) from
        embeddings of every test image."""
        i1, i2, same, folds = testset.pair_index
        v = kfold_verification(pair_scores(emb, i1, i2), same, folds)
        return {f'acc@{label}': 100 * v.accuracy, f'acc_std@{label}': 100 * v.std,
                f'acc_folds@{label}': [100 * a for a in v.fold_accuracies]}

    def summarize(self, res: MethodResult, testset: TestSet, far_target: float = 1e-3) -> dict[str, Any]:
        """One table row: means of the per-image metrics and the verification numbers."""
        row: dict[str, Any] = {'method': res.label, 'images': len(testset.images)}
        row['psnr'] = float(res.psnr.mean()) if res.psnr is not None else None
        row['ssim'] = float(res.ssim.mean()) if res.ssim is not None else None
        row['lpips'] = float(res.lpips.mean()) if res.lpips is not None else None
        if res.lpips is not None:
            row['lpips_images'] = len(res.lpips)
        if res.emb is not None and testset.pairs:
            i1, i2, same, folds = testset.pair_index
            scores = pair_scores(res.emb, i1, i2)
            v = kfold_verification(scores, same, folds)
            far, tar, _ = roc_curve(scores, same)
            row.update(pairs=len(same), acc=100 * v.accuracy, acc_std=100 * v.std,
                       acc_folds=[100 * a for a in v.fold_accuracies],
                       tar_at_far=100 * tar_at_far(scores, same, far_target), far_target=far_target,
                       auc=roc_auc(scores, same))
            row['_roc'] = (far, tar)
        row['seconds'] = round(res.seconds, 2)
        row['cached'] = res.cached
        res.summary = row
        return row
