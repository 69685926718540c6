"""Every shipped options file parses and every ``type:`` in it resolves in its BasicSR registry."""
from __future__ import annotations

import glob
import os

import pytest
import yaml
from basicsr.utils.options import ordered_yaml
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from tests.conftest import REPO

OPTION_FILES = sorted(glob.glob(os.path.join(REPO, 'options', '*.yml')))
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


def test_there_are_options_for_every_stage() -> None:
    names = {os.path.basename(p) for p in OPTION_FILES}
    for stem in ('train_dsnet_psnr_x4', 'train_arcface', 'train_dsnet_gan', 'fhgan_joint'):
        assert f'{stem}.yml' in names and f'{stem}_cpu.yml' in names, stem


@pytest.mark.parametrize('path', OPTION_FILES, ids=os.path.basename)
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
