"""Identity-labelled aligned faces (for ArcFace and the identity loss), LR made on the fly."""
from __future__ import annotations

import os
from typing import Any

import torch

from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
from fhgan_plugin.registry import register_dataset


def read_label_file(path: str, root: str) -> tuple[list[str], list[int]]:
    """Read ``<relative image path> <integer label>`` lines and check them against the folders.

    In an ``<identity>/<image>`` layout every folder must carry one label and every label one folder.

    Raises:
        FileNotFoundError / ValueError: naming the file and line of a missing image, a malformed line,
        or a label that disagrees with the folders.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    rels, labels = [], []
    folder_label: dict[str, tuple[int, int]] = {}
    label_folder: dict[int, tuple[str, int]] = {}
    with open(path) as f:
        for lineno, ln in enumerate(f, 1):
            if not ln.strip():
                continue
            parts = ln.split()
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit() or int(parts[1]) < 0:
                raise ValueError(f'{path}:{lineno}: expected "<image> <non-negative integer label>", '
                                 f'got {ln.rstrip()!r}')
            rel, label = parts[0], int(parts[1])
            if not os.path.isfile(os.path.join(root, rel)):
                raise FileNotFoundError(f'{path}:{lineno}: {rel} is not in {root}')
            folder = os.path.dirname(rel)
            if folder in folder_label and folder_label[folder][0] != label:
                raise ValueError(f'{path}:{lineno}: {rel} has label {label} but folder {folder!r} has label '
                                 f'{folder_label[folder][0]} (line {folder_label[folder][1]})')
            if label in label_folder and label_folder[label][0] != folder:
                raise ValueError(f'{path}:{lineno}: label {label} is used for folder {folder!r} and for '
                                 f'{label_folder[label][0]!r} (line {label_folder[label][1]})')
            folder_label.setdefault(folder, (label, lineno))
            label_folder.setdefault(label, (folder, lineno))
            rels.append(rel)
            labels.append(label)
    if not rels:
        raise ValueError(f'{path}: no labelled images')
    return rels, labels


@register_dataset
class FaceIdentityDataset(FaceSRDataset):
    """Aligned HR faces with integer identity labels; LR by FaceSRDataset's ``degradation``.

    Options: those of :class:`FaceSRDataset` (``dataroot_gt``, ``scale``, ``gt_size``, ``degradation``,
    ``use_hflip``) plus
        label_file (str): lines ``<path relative to dataroot_gt> <label>`` (``datasets/meta/train_labels.txt``).

    Returns per item: ``gt``, ``lq``, ``gt_path``, ``lq_path`` as FaceSRDataset and ``label`` (int64 scalar).
    Attribute ``num_classes`` = max label + 1.
    """

    def __init__(self, opt: dict[str, Any]) -> None:
        if opt.get('io_backend', {'type': 'disk'}).get('type', 'disk') != 'disk':
            raise ValueError('FaceIdentityDataset reads folders (io_backend type disk)')
        rels, labels = read_label_file(opt['label_file'], opt['dataroot_gt'])
        super().__init__({**opt, 'meta_info_file': None, '_paths': rels})
        self.labels = labels
        self.num_classes = max(labels) + 1

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = super().__getitem__(index)
        item['label'] = torch.tensor(self.labels[index], dtype=torch.long)
        return item
