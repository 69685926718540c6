"""Every options file (product and lab notebook) parses, every ``type:`` in it resolves in its BasicSR
registry, and none validates on a test set."""
from __future__ import annotations

import glob
import os

import pytest
import yaml
from basicsr.utils.options import ordered_yaml
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from tests.conftest import REPO

PRODUCT_OPTIONS = sorted(glob.glob(os.path.join(REPO, 'options', '**', '*.yml'), recursive=True))
OPTION_FILES = PRODUCT_OPTIONS + sorted(glob.glob(os.path.join(REPO, 'docs', 'lab', 'options', '*.yml')))
NOT_REGISTERED = {'scheduler', 'optim'}  # torch optimizers / BasicSR schedulers are looked up by name


def _arch_types(node: object) -> list[str]:
    """Every nested ``type`` inside a network block (e.g. FaceEmbedder's backbone)."""
    out = []
    if isinstance(node, dict):
        if 'type' in node:
            out.append(node['type'])
        for v in node.values():
            out += _arch_types(v)
    return out


def _rel(path: str) -> str:
    return os.path.relpath(path, REPO)


def test_options_are_grouped_by_purpose() -> None:
    """options/train/<model>/ for training (paper scale and CPU scale of each stage), options/test/ for testing."""
    rels = {_rel(p) for p in PRODUCT_OPTIONS}
    assert all(r.startswith(('options/train/', 'options/test/')) for r in rels), rels
    for stage in ('ArcFace/train_ArcFace_IResNet34', 'ArcFace/train_ArcFace_MobileFaceNet_cpu',
                  'DSNet/train_DSNet_PSNR_x4',
                  'DSNet/train_DSNet_PSNR_x4_cpu', 'DSNet/train_DSNet_GAN_x4', 'FHGAN/train_FHGAN_x4',
                  'FHGAN/train_FHGAN_x4_cpu'):
        assert f'options/train/{stage}.yml' in rels, stage


@pytest.mark.parametrize('path', OPTION_FILES, ids=_rel)
def test_no_options_file_validates_on_a_test_set(path: str) -> None:
    """Validation (what runs are compared and chosen on) reads the held-out training identities, never LFW,
    CFP or the x8 test sets; those are for the final evaluation (options/test/)."""
    with open(path) as f:
        opt = yaml.load(f, Loader=ordered_yaml()[0])
    for phase, ds in opt['datasets'].items():
        if _rel(path).startswith('options/test/') or not phase.startswith('val'):
            continue
        text = ' '.join(str(ds.get(k, '')) for k in ('dataroot_gt', 'pairs_file', 'meta_info_file')).lower()
        assert not any(t in text for t in ('lfw', 'cfp', 'face_sr_x8', 'celeba_val_1000', 'helen')), (phase, text)
        assert 'val_pairs.txt' in text or 'val_images.txt' in text, (phase, text)


@pytest.mark.parametrize('path', OPTION_FILES, ids=_rel)
def test_options_parse_and_types_resolve(path: str) -> None:
    with open(path) as f:
        opt = yaml.load(f, Loader=ordered_yaml()[0])
    assert opt['name'] and opt['model_type'] in MODEL_REGISTRY
    for phase, ds in opt['datasets'].items():
        assert ds['type'] in DATASET_REGISTRY, (phase, ds['type'])
    for key, net in opt.items():
        if key.startswith('network_'):
            for t in _arch_types(net):
                assert t in ARCH_REGISTRY, (key, t)
    for key, val in opt.get('train', {}).items():
        if isinstance(val, dict) and 'type' in val and not any(key.startswith(p) for p in NOT_REGISTERED):
            assert val['type'] in LOSS_REGISTRY, (key, val['type'])
    for name, metric in (opt.get('val', {}).get('metrics') or {}).items():
        assert metric['type'] in METRIC_REGISTRY, (name, metric['type'])
    for t in _arch_types(opt.get('val', {}).get('fr') or {}):
        assert t in ARCH_REGISTRY, t
    # no absolute paths: options refer to the repository's datasets/ cache or ../shared
    text = open(path).read()
    assert '/work/' not in text and '/root/' not in text
