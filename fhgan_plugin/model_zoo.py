"""Generator weights shipped with the package, loadable by name (``fhgan-hallucinate --weights NAME``).

Every shipped file was produced by this project's own training (never a file from ``../shared``); its model
card (``fhgan_plugin/weights/<name>.md``) gives the data, options, commit and measured metrics, and
``scripts/make_release.py`` re-creates file and card from a training checkpoint.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fhgan_plugin.archs.dsnet_arch import DSNET_CONFIGS

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'weights')


@dataclass(frozen=True)
class ShippedModel:
    """A generator file inside ``fhgan_plugin/weights`` with the architecture it needs."""

    name: str
    file: str
    arch: dict[str, Any] = field(default_factory=dict)
    summary: str = ''
    limits: str = ''

    @property
    def path(self) -> str:
        return os.path.join(WEIGHTS_DIR, self.file)

    @property
    def card(self) -> str:
        return os.path.join(WEIGHTS_DIR, os.path.splitext(self.file)[0] + '.md')


SHIPPED_MODELS: dict[str, ShippedModel] = {
    # Since 2026-12-01 (session 17): the λ4 = 250 batch-16 bfloat16 FH-GAN (seed 0) with 5 steps of iterative
    # back-projection applied to its output (arch option back_projection=5; no parameters of its own); before, the
    # λ4 = 150 batch-8 model without back-projection (README "Main results";
    # docs/experiments.md "LR-consistent outputs").
    'fhgan-x4-cpu': ShippedModel(
        name='fhgan-x4-cpu', file='fhgan_x4_cpu.pth',
        arch={'type': 'DSNet', **DSNET_CONFIGS['cpu'], 'upscale': 4, 'back_projection': 5},
        summary='FH-GAN generator (DSNet, cpu width, identity loss λ4 = 250) with 5 steps of iterative back-projection '
                'on its output, 28x28 -> 112x112 ArcFace-aligned faces, trained on CelebA + LFW non-pair people '
                '(options/fhgan_joint_id_cpu_bf16.yml with train:identity_opt:loss_weight=250.0)',
        limits='CPU-scale training (reduced width, 600 iterations); the identity network is the shared pretrained '
               'MobileFaceNet fine-tuned jointly, so verification with a MobileFaceNet flatters it; the best of four '
               'seeds (with back-projection, float32: 4-seed mean 50.6 % of the bicubic-to-HR verification gap, this '
               'seed 54.7 %, this float16 file 52.5 %); back-projection alone, on bicubic, closes 25.7 %'),
    # The PSNR-oriented generator: the DSNet-PSNR row of the README's results and the starting point of both
    # FH-GAN runs (options/fhgan_joint_{id,noid}_cpu.yml load this file), so they need no 45-minute stage first.
    'dsnet-psnr-x4-cpu': ShippedModel(
        name='dsnet-psnr-x4-cpu', file='dsnet_psnr_x4_cpu.pth',
        arch={'type': 'DSNet', **DSNET_CONFIGS['cpu'], 'upscale': 4},
        summary='DSNet-PSNR generator (DSNet, cpu width, pixel MSE only), 28x28 -> 112x112 ArcFace-aligned faces, '
                'trained on CelebA + LFW non-pair people (options/train_dsnet_psnr_x4_cpu.yml)',
        limits='CPU-scale training (reduced width, 2,500 iterations); trained for PSNR only, so it is smoother '
               'than the FH-GAN models and recovers less identity'),
}
DEFAULT_MODEL = 'fhgan-x4-cpu'


def resolve_weights(weights: str | None) -> tuple[str, dict[str, Any] | None]:
    """(checkpoint path, arch options or None) for a shipped model name, a file path, or None (the default model).

    Raises:
        FileNotFoundError: neither a shipped name nor an existing file (the message lists the names), or a
            shipped file missing from the installation.
    """
    name = DEFAULT_MODEL if weights is None else weights
    if name in SHIPPED_MODELS:
        model = SHIPPED_MODELS[name]
        if not os.path.isfile(model.path):
            raise FileNotFoundError(f'shipped model {name!r} should be at {model.path} but is missing: reinstall '
                                    'fhgan-plugin, or pass --weights PATH to a generator checkpoint')
        return model.path, dict(model.arch)
    if os.path.isfile(name):
        return name, None
    raise FileNotFoundError(f'--weights {name!r} is neither a file nor a shipped model; shipped models: '
                            f'{sorted(SHIPPED_MODELS)} (default {DEFAULT_MODEL!r})')
