"""Shared fixtures: synthetic face-like images, the ../shared locator, a tiny DSNet option block."""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import fhgan_plugin  # noqa: E402,F401  registers everything before the tests import BasicSR pieces
from fhgan_plugin.utils.paths import shared_root  # noqa: E402


def lab_script(name: str):  # noqa: ANN201 - a module
    """Import a lab-notebook script (``docs/lab/scripts/<name>.py``, not a package) by path."""
    import importlib.util
    path = os.path.join(REPO, 'docs', 'lab', 'scripts', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'lab_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random uint8 BGR image (low-frequency noise upsampled), so SR has something to learn."""
    low = rng.integers(0, 256, (max(size // 8, 2), max(size // 8, 2), 3), dtype=np.uint8)
    return cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)


def write_faces(root: str, n: int, size: int = 32, seed: int = 0) -> list[str]:
    """Write ``n`` synthetic HR images as ``root/<id>/<k>.png``; returns their relative paths."""
    rng = np.random.default_rng(seed)
    rels = []
    for k in range(n):
        rel = f'id{k % 3}/{k:03d}.png'
        os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        cv2.imwrite(os.path.join(root, rel), smooth_image(rng, size))
        rels.append(rel)
    return rels


@pytest.fixture(scope='session')
def shared() -> str:
    """The ../shared root; tests that need it are skipped (with the reason) where it is absent."""
    root = shared_root()
    if root is None:
        pytest.skip('../shared (or $FHGAN_SHARED) is not present: real-data test skipped')
    return root


@pytest.fixture()
def face_folder(tmp_path) -> str:  # noqa: ANN001
    root = str(tmp_path / 'faces')
    write_faces(root, 12)
    return root


@pytest.fixture()
def cpu_weights(tmp_path) -> str:  # noqa: ANN001
    """A BasicSR checkpoint (``params``) of a seeded, untrained ``cpu``-config DSNet."""
    import torch

    from fhgan_plugin.archs import DSNet
    torch.manual_seed(0)
    path = str(tmp_path / 'net_g.pth')
    torch.save({'params': DSNet.from_config('cpu').state_dict()}, path)
    return path
