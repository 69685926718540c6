"""Aligned-face SR dataset: HR faces from a folder or LMDB, LR made on the fly."""
from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np
import torch
from basicsr.utils import FileClient, img2tensor
from torch.utils import data

from fhgan_plugin.data.degradation import DEGRADATIONS, degrade
from fhgan_plugin.data.real_degradation import PRESETS, RealDegradation, image_seed
from fhgan_plugin.registry import register_dataset

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp')


def list_images(root: str, meta_info_file: str | None = None) -> list[str]:
    """Relative paths of the HR images: the first field of each line of ``meta_info_file``, else a sorted
    recursive listing of ``root``.

    Raises:
        FileNotFoundError: naming the missing root, meta file, or the first listed image that is absent.
    """
    if meta_info_file:
        if not os.path.isfile(meta_info_file):
            raise FileNotFoundError(f'meta_info_file not found: {meta_info_file}')
        with open(meta_info_file) as f:
            rels = [ln.split()[0] for ln in f if ln.strip()]
        for i, rel in enumerate(rels):
            if not os.path.isfile(os.path.join(root, rel)):
                raise FileNotFoundError(f'{meta_info_file}:{i + 1}: {rel} is not in {root} '
                                        '(run scripts/prepare_data.py?)')
        return rels
    if not os.path.isdir(root):
        raise FileNotFoundError(f'dataroot_gt {root} is not a folder (run scripts/prepare_data.py?)')
    rels = []
    for dirpath, _, files in os.walk(root):
        rels += [os.path.relpath(os.path.join(dirpath, f), root) for f in files if f.lower().endswith(IMG_EXTENSIONS)]
    if not rels:
        raise FileNotFoundError(f'no images ({", ".join(IMG_EXTENSIONS)}) under {root}')
    return sorted(rels)


def lmdb_keys(root: str) -> list[str]:
    """Keys of a BasicSR LMDB (``meta_info.txt``: ``<key>.png (h,w,c) <compression>``)."""
    meta = os.path.join(root, 'meta_info.txt')
    if not root.endswith('.lmdb') or not os.path.isfile(meta):
        raise ValueError(f'{root} is not a BasicSR LMDB (a *.lmdb folder with meta_info.txt)')
    with open(meta) as f:
        return [os.path.splitext(ln.split(' ')[0])[0] for ln in f if ln.strip()]


def build_degradation(spec: str | dict[str, Any], who: str) -> RealDegradation | None:
    """None for a :data:`~fhgan_plugin.data.degradation.DEGRADATIONS` name, else the RealDegradation of a preset name
    or options dict.

    Raises:
        ValueError: naming ``who``, the bad value and the valid names / options.
    """
    if isinstance(spec, dict):
        return RealDegradation.from_options(spec, f'{who}: degradation')
    if spec in DEGRADATIONS:
        return None
    if spec in PRESETS:
        return RealDegradation.from_options({'preset': spec})
    raise ValueError(f'{who}: degradation {spec!r} is not one of {sorted(DEGRADATIONS) + sorted(PRESETS)} '
                     '(or a dict of RealDegradation options)')


@register_dataset
class FaceSRDataset(data.Dataset):
    """Aligned HR faces; the LR input is made on the fly by a fixed degradation.

    Options (BasicSR dataset dict):
        dataroot_gt (str): Folder (or ``*.lmdb`` with ``io_backend: {type: lmdb}``) of aligned HR faces.
        meta_info_file (str, optional): Text file whose lines start with image paths relative to dataroot_gt.
        io_backend (dict): ``{type: disk}`` or ``{type: lmdb}``.
        scale (int): SR factor (set by BasicSR from the top-level ``scale``).
        gt_size (int, optional): Required HR side; a differently sized image is an error naming it.
        degradation (str | dict): How the LR is made: 'bilinear' (default: the canonical bilinear-antialias ×s of
            the 28 → 112 protocol), 'bicubic_matlab' (MATLAB-style bicubic, the ×8 face-SR benchmark's convention),
            a preset of :class:`~fhgan_plugin.data.real_degradation.RealDegradation` ('surveillance': blur, capture
            size, noise, JPEG at random), or a dict of its options (``{preset: surveillance, jpeg_prob: 0.5}``).
        degradation_seed (int): With a RealDegradation outside training, each image's LR is fixed by this seed and
            its path (the same probes on every run); in training each draw takes a fresh seed from torch's RNG (which
            BasicSR seeds from ``manual_seed``). Default 0.
        use_hflip (bool): Random horizontal flip (training).
        phase (str): 'train' / 'val' / 'test' (set by BasicSR).

    Returns per item:
        ``gt`` (3, H, W) and ``lq`` (3, H/scale, W/scale) float RGB in [0, 1] (``lq`` on the uint8 grid),
        ``gt_path`` and ``lq_path`` (the same file: the LR has no file of its own).
    """

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__()
        self.opt = opt
        self.root = opt['dataroot_gt']
        self.scale = int(opt.get('scale', 4))
        self.gt_size = opt.get('gt_size')
        self.use_hflip = bool(opt.get('use_hflip', False)) and opt.get('phase', 'train') == 'train'
        self.degradation = opt.get('degradation', 'bilinear')
        self.real = build_degradation(self.degradation, 'FaceSRDataset')
        self.degradation_seed = int(opt.get('degradation_seed', 0))
        self.train = opt.get('phase', 'train') == 'train'
        self.io_backend_opt = dict(opt.get('io_backend') or {'type': 'disk'})
        self.file_client: FileClient | None = None
        if self.io_backend_opt['type'] == 'lmdb':
            self.io_backend_opt['db_paths'] = [self.root]
            self.io_backend_opt['client_keys'] = ['gt']
            self.paths = lmdb_keys(self.root)
        else:
            rels = opt.get('_paths') or list_images(self.root, opt.get('meta_info_file'))
            self.paths = [os.path.join(self.root, p) for p in rels]

    def __len__(self) -> int:
        return len(self.paths)

    def relative_name(self, index: int) -> str:
        """Image ``index``'s path relative to ``dataroot_gt`` (its LMDB key for an LMDB)."""
        path = self.paths[index]
        return path if self.io_backend_opt['type'] == 'lmdb' else os.path.relpath(path, self.root)

    def load_gt(self, index: int) -> tuple[torch.Tensor, str]:
        """Read and check HR image ``index``: (3, H, W) float RGB tensor in [0, 1] and its path."""
        if self.file_client is None:
            opt = dict(self.io_backend_opt)
            self.file_client = FileClient(opt.pop('type'), **opt)
        path = self.paths[index]
        try:
            content = self.file_client.get(path, 'gt')
        except Exception as err:
            raise OSError(f'FaceSRDataset: cannot read {path}: {err}') from err
        img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR) if content else None
        if img is None:
            raise ValueError(f'FaceSRDataset: {path} is not a readable image')
        h, w = img.shape[:2]
        if self.gt_size is not None and (h, w) != (self.gt_size, self.gt_size):
            raise ValueError(f'FaceSRDataset: {path} is {w}x{h}, expected {self.gt_size}x{self.gt_size}')
        if h % self.scale or w % self.scale:
            raise ValueError(f'FaceSRDataset: {path} is {w}x{h}, not divisible by scale {self.scale}')
        return img2tensor(img.astype(np.float32) / 255.0, bgr2rgb=True, float32=True), path

    def __getitem__(self, index: int) -> dict[str, Any]:
        gt, path = self.load_gt(index)
        if self.use_hflip and torch.rand(()) < 0.5:
            gt = gt.flip(-1)
        if self.real is None:
            lq = degrade(gt, self.scale, self.degradation)
        else:
            seed = int(torch.randint(0, 2 ** 62, ())) if self.train else \
                image_seed(self.degradation_seed, self.relative_name(index))
            lq = self.real(gt, gt.shape[-1] // self.scale, seed)
        return {'lq': lq, 'gt': gt, 'lq_path': path, 'gt_path': path}
