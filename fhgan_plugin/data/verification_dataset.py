"""Verification pairs (LFW / CFP protocols) of aligned faces, HR and canonical LR, in protocol order."""
from __future__ import annotations

import os
from typing import Any

import torch
from torch.utils import data

from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
from fhgan_plugin.data.pairs import Pair, check_pair_images, read_pairs_file
from fhgan_plugin.metrics.verification import PROTOCOLS
from fhgan_plugin.registry import register_dataset


def _with_ext(rel: str, ext: str | None) -> str:
    return rel if not ext else os.path.splitext(rel)[0] + ext


@register_dataset
class VerificationPairsDataset(data.Dataset):
    """Both faces of each verification pair, HR and LR, with ``issame`` and ``fold``.

    Options:
        dataroot_gt (str): Root of the aligned images (e.g. ``datasets/faces112/lfw_pairs``).
        pairs_file (str): LFW ``pairs.txt``, CFP's ``Protocol`` folder, or a pairs list (``meta/val_pairs.txt``).
        pairs_kind (str): 'lfw' (default), 'cfp' or 'list'.
        cfp_setting (str): 'FF' or 'FP' for CFP.
        ext (str): Extension of the aligned files ('.png', default) replacing the protocol's.
        scale (int): SR factor of the LR faces.
        gt_size (int, optional): Required HR side.
        degradation (str | dict): How the LR faces are made (FaceSRDataset's option; default 'bilinear').
        degradation_seed (int): Seed of a random degradation: each image's LR is fixed by it and its path.
        protocol (str): 'lr-lr' (default: both faces degraded) or 'gallery-probe' (one face of each pair stays HR,
            :func:`fhgan_plugin.metrics.verification.probe_sides`), read by the validation of the SR models.

    Returns per item: ``gt1``, ``gt2`` (3, H, W), ``lq1``, ``lq2`` (3, H/s, W/s), ``issame`` (bool tensor),
    ``fold`` (int tensor), ``gt1_path``, ``gt2_path``, ``index``.
    """

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__()
        self.opt = opt
        self.protocol = opt.get('protocol', 'lr-lr')
        if self.protocol not in PROTOCOLS:
            raise ValueError(f'VerificationPairsDataset: protocol {self.protocol!r} is not one of {list(PROTOCOLS)}')
        kind = opt.get('pairs_kind', 'lfw')
        ext = opt.get('ext', '.png')
        raw = read_pairs_file(opt['pairs_file'], kind, opt.get('cfp_setting', 'FP'))
        self.pairs: list[Pair] = [Pair(_with_ext(p.path1, ext), _with_ext(p.path2, ext), p.issame, p.fold)
                                  for p in raw]
        check_pair_images(self.pairs, opt['dataroot_gt'], source=opt['pairs_file'])
        self.images = sorted({p.path1 for p in self.pairs} | {p.path2 for p in self.pairs})
        self._index = {rel: i for i, rel in enumerate(self.images)}
        self._faces = FaceSRDataset({'dataroot_gt': opt['dataroot_gt'], 'scale': opt.get('scale', 4),
                                     'gt_size': opt.get('gt_size'), 'phase': 'val', '_paths': self.images,
                                     'degradation': opt.get('degradation', 'bilinear'),
                                     'degradation_seed': opt.get('degradation_seed', 0)})

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def faces(self) -> FaceSRDataset:
        """The unique images as a :class:`FaceSRDataset` (index :meth:`index_of`)."""
        return self._faces

    def index_of(self, rel: str) -> int:
        """Index of unique image ``rel`` (a path of the pairs file) in :attr:`faces`."""
        return self._index[rel]

    def image_item(self, rel: str) -> dict[str, Any]:
        """HR/LR of one unique image (for computing each image's embedding once)."""
        return self._faces[self._index[rel]]

    def __getitem__(self, index: int) -> dict[str, Any]:
        p = self.pairs[index]
        a, b = self.image_item(p.path1), self.image_item(p.path2)
        return {'gt1': a['gt'], 'gt2': b['gt'], 'lq1': a['lq'], 'lq2': b['lq'],
                'issame': torch.tensor(p.issame), 'fold': torch.tensor(p.fold),
                'gt1_path': a['gt_path'], 'gt2_path': b['gt_path'], 'index': index}
