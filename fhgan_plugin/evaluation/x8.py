"""The ×8 face-SR benchmark of the field (16×16 → 128×128, FSRNet's CelebA-1000 and Helen-50 test crops).

Conventions (those of the papers' tables, checked by matching their published bicubic row; see
``docs/results/x8_benchmark.md``): LR = MATLAB-style bicubic ×1/8 of the 128×128 HR (BasicSR's ``imresize``,
uint8); PSNR / SSIM on the Y channel (BasicSR's ``calculate_psnr`` / ``calculate_ssim``, ``test_y_channel``) with
**crop border 8** (= the scale); the "Bicubic" baseline is OpenCV's bicubic upsampling. Plus LPIPS (VGG) on every
image and, on CelebA-1000, 10-fold verification of the pairs built from its identity file, SR and HR warped by the
same similarity transform (landmarks detected once on the HR crop) to the ArcFace framing.

``python scripts/evaluate.py --benchmark face-sr-x8 --method bicubic-opencv --method ...`` writes one table.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

import torch

from fhgan_plugin.data.face_sr_x8 import X8_SCALE, read_landmarks
from fhgan_plugin.evaluation.methods import Method
from fhgan_plugin.evaluation.runner import Evaluator, load_test_set
from fhgan_plugin.utils.complexity import count_macs, count_params

logger = logging.getLogger('fhgan_plugin')

CROP_BORDER = 8
#: Published ×8 results (PSNR / SSIM on Y), not re-run here. Source: the ×8 comparison table reproduced in the
#: README of github.com/haohena/RE-SFMNet ("Quantitative comparisons for ×8 SR on the CelebA and Helen test
#: sets"), the rows SISN (ACM MM 2021) and SFMNet (CVPR 2023) report for FSRNet's CelebA / Helen test splits.
PUBLISHED_X8 = {
    'source': 'github.com/haohena/RE-SFMNet README, table "Quantitative comparisons for x8 SR on the CelebA and '
              'Helen test sets" (published numbers, not re-run)',
    'rows': {
        'Bicubic': (23.58, 0.6285, 23.88, 0.6628),
        'EDSR': (26.84, 0.7787, 26.60, 0.7851),
        'FSRNet': (26.66, 0.7714, 26.43, 0.7799),
        'DIC': (27.37, 0.8022, 26.94, 0.8026),
        'SPARNet': (27.42, 0.8036, 26.95, 0.8029),
        'SISN': (27.31, 0.7978, 27.08, 0.8083),
        'SFMNet': (27.56, 0.8047, 27.22, 0.8141),
    },
}
SETS = (('CelebA-1000', 'celeba1000', 'celeba_val_1000_HR', True), ('Helen-50', 'helen50', 'helen_val_50_HR', False))


def faces_per_second(method: Method, lq: torch.Tensor, gt: torch.Tensor, repeats: int = 3) -> float | None:
    """CPU SR throughput of a network method at batch ``len(lq)`` (best of ``repeats`` after a warm-up)."""
    if method.kind != 'network':
        return None
    method.super_resolve(lq, gt)
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter()
        method.super_resolve(lq, gt)
        best = min(best, time.perf_counter() - t)
    return len(lq) / best


def run_x8_benchmark(methods: list[Method], ev_kwargs: dict[str, Any], x8_shared: str, x8_prepared: str,
                     fr_available: bool) -> list[dict[str, Any]]:
    """One row per method: PSNR / SSIM (Y, crop 8), LPIPS on both sets, CelebA-1000 verification, params, GMACs
    and CPU faces/s, with the per-set rows of :meth:`Evaluator.summarize` under ``_sets``."""
    rows = {m.label: {'method': m.label, '_sets': {}} for m in methods}
    ev = Evaluator(**ev_kwargs, test_y_channel=True, crop_border=CROP_BORDER)
    for title, key, folder, with_pairs in SETS:
        root = os.path.join(x8_shared, folder)
        pairs = os.path.join(x8_prepared, 'celeba1000_pairs.txt') if with_pairs and fr_available else None
        lms = os.path.join(x8_prepared, f'{key}_landmarks.csv')
        if not os.path.isfile(lms):
            raise FileNotFoundError(f'{lms} not found: run python scripts/prepare_data.py --sets x8_benchmark')
        ts = load_test_set(root, pairs, 'list', name=title, scale=X8_SCALE, degradation='bicubic_matlab',
                           fr_landmarks=read_landmarks(lms) if pairs else None, ext='.jpg', every_image=True,
                           digest_cache=os.path.join(ev.cache_dir, f'digests_{key}.json') if ev.cache_dir else None)
        if not with_pairs:
            saved, ev.fr = ev.fr, None  # Helen-50 has no identities: PSNR / SSIM / LPIPS only
        for m in methods:
            if m.kind == 'hr' and not pairs:
                continue
            res = ev.run_method(m, ts)
            rows[m.label]['_sets'][key] = ev.summarize(res, ts)
        if not with_pairs:
            ev.fr = saved
        if key == 'celeba1000':
            for m in methods:
                m.load(ev.device)
                if m.kind == 'network':
                    net = m.net
                    rows[m.label].update(params=count_params(net),
                                         gmacs=count_macs(net, (1, 3, 16, 16)) / 1e9,
                                         faces_per_s=faces_per_second(m, ts.lq[:16].float() / 255,
                                                                      ts.hr[:16].float() / 255))
    out = []
    for m in methods:
        r = rows[m.label]
        for key in ('celeba1000', 'helen50'):
            s = r['_sets'].get(key, {})
            r[f'psnr_{key}'], r[f'ssim_{key}'], r[f'lpips_{key}'] = s.get('psnr'), s.get('ssim'), s.get('lpips')
        s = r['_sets'].get('celeba1000', {})
        r['acc'], r['acc_std'], r['acc_folds'] = s.get('acc'), s.get('acc_std'), s.get('acc_folds')
        out.append(r)
    return out


def _f(v: float | None, fmt: str) -> str:
    return '—' if v is None else format(v, fmt)


def x8_markdown(rows: list[dict[str, Any]], with_published: bool = True) -> str:
    """The results table: measured rows, then the published ones (marked)."""
    head = ('| method | CelebA PSNR (Y) | CelebA SSIM (Y) | Helen PSNR (Y) | Helen SSIM (Y) | CelebA LPIPS '
            '| Helen LPIPS | CelebA-1000 verification (%) | params | GMACs | CPU faces/s |\n'
            '|---|' + '---:|' * 10 + '\n')
    lines = []
    for r in rows:
        acc = '—' if r.get('acc') is None else f"{r['acc']:.2f} ± {r['acc_std']:.2f}"
        lines.append(f"| {r['method']} | {_f(r['psnr_celeba1000'], '.2f')} | {_f(r['ssim_celeba1000'], '.4f')} | "
                     f"{_f(r['psnr_helen50'], '.2f')} | {_f(r['ssim_helen50'], '.4f')} | "
                     f"{_f(r['lpips_celeba1000'], '.4f')} | {_f(r['lpips_helen50'], '.4f')} | {acc} | "
                     f"{'—' if r.get('params') is None else format(r['params'], ',')} | "
                     f"{_f(r.get('gmacs'), '.2f')} | {_f(r.get('faces_per_s'), '.0f')} |")
    if with_published:
        for name, (pc, sc, ph, sh) in PUBLISHED_X8['rows'].items():
            lines.append(f'| {name} (published, not re-run) | {pc:.2f} | {sc:.4f} | {ph:.2f} | {sh:.4f} '
                         '| — | — | — | — | — | — |')
    return head + '\n'.join(lines) + f"\n\nPublished rows: {PUBLISHED_X8['source']}.\n"
