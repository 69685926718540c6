"""Verification under probe conditions: the low-resolution face-recognition protocols of surveillance.

``scripts/evaluate.py --protocol gallery-probe`` (or ``lr-lr``) measures, for every method and every probe condition,
the 10-fold verification accuracy on a pairs protocol (LFW by default):

* ``gallery-probe``: one face of each pair stays HR (the gallery: a mugshot, an ID photo); the other (the probe) is
  degraded by the condition, then super-resolved by the method
  (:func:`fhgan_plugin.metrics.verification.probe_sides`: image 1 of even pairs, image 2 of odd ones);
* ``lr-lr``: both faces degraded and super-resolved (the paper's protocol when the condition is ``clean``).

The conditions are fixed settings of :class:`~fhgan_plugin.data.real_degradation.RealDegradation`
(:data:`CONDITIONS`): clean 28 px, faces of 14 and 20 px resized to the input, Gaussian blur σ 1 and 2, noise σ 10,
JPEG quality 30, and the ``surveillance`` preset (every degradation at random). Each probe's LR is fixed by the
protocol seed, the condition and the image name (:func:`~fhgan_plugin.data.real_degradation.image_seed`), and the
sha256 of all of a condition's LR bytes is recorded, so a run can be checked bit for bit.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fhgan_plugin.data.real_degradation import RealDegradation, image_seed
from fhgan_plugin.errors import InputError
from fhgan_plugin.evaluation.methods import Method
from fhgan_plugin.evaluation.runner import Evaluator, TestSet
from fhgan_plugin.metrics.verification import (
    PROTOCOLS,
    gallery_probe_scores,
    kfold_verification,
    pair_scores,
    probe_sides,
)

logger = logging.getLogger('fhgan_plugin')

_ISO = {'kernel_list': ['iso'], 'kernel_prob': [1.0]}
#: Probe conditions: name -> (table label, RealDegradation options). Sizes, σ and quality are in pixels of the face at
#: capture, grey levels and JPEG quality; every probe ends at the model's input side (28 px for the ×4 models).
CONDITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    'clean': ('clean 28 px', {}),
    'size14': ('14 px', {'size_prob': 1.0, 'capture_size': [14, 14], 'resize_modes': ['bilinear']}),
    'size20': ('20 px', {'size_prob': 1.0, 'capture_size': [20, 20], 'resize_modes': ['bilinear']}),
    'blur1': ('blur σ 1', {'blur_prob': 1.0, 'blur_sigma': [1.0, 1.0], **_ISO}),
    'blur2': ('blur σ 2', {'blur_prob': 1.0, 'blur_sigma': [2.0, 2.0], **_ISO}),
    'noise10': ('noise σ 10', {'noise_prob': 1.0, 'noise_sigma': [10.0, 10.0]}),
    'jpeg30': ('JPEG 30', {'jpeg_prob': 1.0, 'jpeg_quality': [30, 30]}),
    'realistic': ('realistic (surveillance)', {'preset': 'surveillance'}),
}


def parse_conditions(text: str) -> list[str]:
    """``all`` or a comma-separated list of :data:`CONDITIONS` names, in the given order.

    Raises:
        InputError: naming an unknown condition and the valid ones.
    """
    names = list(CONDITIONS) if text.strip() == 'all' else [c.strip() for c in text.split(',') if c.strip()]
    bad = [c for c in names if c not in CONDITIONS]
    if bad or not names:
        raise InputError(f'unknown probe condition(s) {bad or [text]}; choose from {list(CONDITIONS)} or all')
    return names


def make_probes(hr: torch.Tensor, images: list[str], condition: str, out_size: int,
                seed: int = 0) -> tuple[torch.Tensor, str]:
    """The uint8 LR probes of (N, 3, H, W) uint8 HR faces under ``condition``, and the sha256 of their bytes.

    Each face's random choices come from ``image_seed(seed, f'{condition}/{name}')``: the same bytes on every run.
    """
    deg = RealDegradation.from_options(CONDITIONS[condition][1], f'condition {condition}')
    out = torch.empty(len(hr), 3, out_size, out_size, dtype=torch.uint8)
    for i in tqdm(range(len(hr)), desc=f'probes ({condition})', unit='img', leave=False):
        lq = deg(hr[i].float() / 255, out_size, image_seed(seed, f'{condition}/{images[i]}'))
        out[i] = (lq * 255).round().to(torch.uint8)
    return out, hashlib.sha256(out.numpy().tobytes()).hexdigest()


@dataclass
class ConditionRun:
    """What :func:`run_conditions` needs besides the methods."""

    evaluator: Evaluator
    testset: TestSet
    protocol: str = 'gallery-probe'
    seed: int = 0
    scale: int = 4


def run_conditions(methods: list[Method], run: ConditionRun, conditions: list[str]) -> dict[str, Any]:
    """Verification of every method under every condition (module docstring).

    Returns:
        ``{'protocol', 'seed', 'conditions': {name: {'label', 'checksum', 'probes', 'rows': [...]}}}``; each row has
        ``method``, ``acc``, ``acc_std``, ``acc_folds`` (%, 10 folds) and the probes' mean ``psnr`` / ``ssim``
        (None for HR). The HR row (probe = the HR face) is the same in every condition.
    """
    ts, ev = run.testset, run.evaluator
    if run.protocol not in PROTOCOLS:
        raise InputError(f'protocol {run.protocol!r} is not one of {list(PROTOCOLS)}')
    if not ts.pairs:
        raise InputError('probe conditions need a pairs protocol (--pairs-file)')
    if ev.fr is None:
        raise InputError('probe conditions need an FR network (--fr)')
    i1, i2, same, folds = ts.pair_index
    sides = probe_sides(len(i1))
    probe_idx = np.unique(np.where(sides == 0, i1, i2)) if run.protocol == 'gallery-probe' else \
        np.arange(len(ts.images))
    hr_method = next((m for m in methods if m.kind == 'hr'), Method('FR-HR images', 'hr'))
    hr_emb = ev.run_method(hr_method, ts).emb
    hr_v = kfold_verification(pair_scores(hr_emb, i1, i2), same, folds)
    hr_row = _row(hr_method.label, hr_v, None, None)
    out: dict[str, Any] = {'protocol': run.protocol, 'seed': run.seed, 'pairs': len(i1), 'probes': len(probe_idx),
                           'conditions': {}}
    size = ts.hr.shape[-1] // run.scale
    for cond in conditions:
        names = [ts.images[i] for i in probe_idx]
        lq, checksum = make_probes(ts.hr[probe_idx], names, cond, size, run.seed)
        key = hashlib.sha256(f'{ts.key}|{run.protocol}|{cond}|{checksum}'.encode()).hexdigest()[:16]
        sub = TestSet(f'{ts.name}-{cond}', names, ts.hr[probe_idx], lq, None, key)
        rows = []
        for m in methods:
            if m.kind == 'hr':
                rows.append(hr_row)
                continue
            res = ev.run_method(m, sub)
            emb = torch.zeros_like(hr_emb)
            emb[torch.as_tensor(probe_idx)] = res.emb
            scores = gallery_probe_scores(emb, hr_emb, i1, i2, sides) if run.protocol == 'gallery-probe' else \
                pair_scores(emb, i1, i2)
            rows.append(_row(m.label, kfold_verification(scores, same, folds), res.psnr, res.ssim))
            logger.info('%s / %s: %.2f ± %.2f %%', cond, m.label, rows[-1]['acc'], rows[-1]['acc_std'])
        out['conditions'][cond] = {'label': CONDITIONS[cond][0], 'degradation': CONDITIONS[cond][1],
                                   'checksum': checksum, 'probes': len(names), 'rows': rows}
    return out


def _row(label: str, v: Any, psnr: np.ndarray | None, ssim: np.ndarray | None) -> dict[str, Any]:
    return {'method': label, 'acc': 100 * v.accuracy, 'acc_std': 100 * v.std,
            'acc_folds': [100 * a for a in v.fold_accuracies],
            'psnr': None if psnr is None else float(np.mean(psnr)),
            'ssim': None if ssim is None else float(np.mean(ssim))}


def conditions_markdown(result: dict[str, Any], title: str) -> str:
    """One table: a row per method, a column per condition, cells ``acc ± fold std`` (%)."""
    conds = list(result['conditions'])
    methods = [r['method'] for r in result['conditions'][conds[0]]['rows']] if conds else []
    lines = [f'### {title}', '',
             '| method | ' + ' | '.join(result['conditions'][c]['label'] for c in conds) + ' |',
             '|---|' + '---|' * len(conds)]
    for i, name in enumerate(methods):
        cells = []
        for c in conds:
            rows = result['conditions'][c]['rows']
            best = max(r['acc'] for r in rows if r['psnr'] is not None) if any(r['psnr'] is not None for r in rows) \
                else None
            r = rows[i]
            cell = f"{r['acc']:.2f} ± {r['acc_std']:.2f}"
            cells.append(f'**{cell}**' if r['psnr'] is not None and r['acc'] == best else cell)
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', f"Protocol {result['protocol']}, {result['pairs']:,} pairs, {result['probes']:,} probe images, "
              f"seed {result['seed']}; bold: the best SR method per condition (HR is the ceiling). "
              'LR checksums (sha256 of the uint8 probes): ' +
              ', '.join(f"{c} `{result['conditions'][c]['checksum'][:12]}`" for c in conds), '']
    return '\n'.join(lines)
