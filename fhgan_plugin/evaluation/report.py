"""Evaluation outputs: Markdown / CSV / JSON tables, ROC curves (PNG) and the picture grid (the paper's Fig. 5)."""
from __future__ import annotations

import csv
import json
import os
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from fhgan_plugin.evaluation.methods import Method
from fhgan_plugin.utils.upsample import pil_upsample

COLUMNS = [('method', 'Method'), ('psnr', 'PSNR (dB)'), ('ssim', 'SSIM'), ('lpips', 'LPIPS'),
           ('acc', 'Verif. acc. (%)'), ('tar_at_far', 'TAR@FAR (%)'), ('auc', 'ROC AUC'), ('seconds', 'Time (s)')]


def _fmt(key: str, row: dict[str, Any]) -> str:
    v = row.get(key)
    if v is None:
        return '—'
    if key == 'psnr':
        return f'{v:.2f}'
    if key in ('ssim', 'lpips', 'auc'):
        return f'{v:.4f}'
    if key == 'acc' or key.startswith('acc@'):
        return f'{v:.2f} ± {row[key.replace("acc", "acc_std", 1)]:.2f}'
    if key == 'gap' or key.startswith('gap@'):
        return f'{100 * v:.0f} %'
    if key == 'tar_at_far':
        return f'{v:.2f}'
    if key == 'seconds':
        return f'{v:.1f}' + (' (cached)' if row.get('cached') else '')
    return str(v)


def markdown_table(rows: list[dict[str, Any]], title: str | None = None) -> str:
    """The rows as a Markdown table (columns without any value are left out)."""
    cols = [(k, h) for k, h in COLUMNS if any(r.get(k) is not None for r in rows)]
    extra = list(dict.fromkeys(k for r in rows for k in r if k.startswith('acc@')))
    at = next((i for i, (k, _) in enumerate(cols) if k == 'acc'), len(cols) - 1) + 1
    cols[at:at] = [(k, f'Verif. acc. (%), FR {k[4:]}') for k in extra]
    gaps = list(dict.fromkeys(k for r in rows for k in r if k == 'gap' or k.startswith('gap@')))
    at += len(extra)
    cols[at:at] = [(k, 'Gap closed' + (f', FR {k[4:]}' if '@' in k else '')) for k in gaps]
    far = next((r['far_target'] for r in rows if 'far_target' in r), None)
    cols = [(k, h.replace('FAR', f'FAR={far:g}') if k == 'tar_at_far' else h) for k, h in cols]
    lines = [f'### {title}', ''] if title else []
    lines += ['| ' + ' | '.join(h for _, h in cols) + ' |', '|' + '|'.join('---' for _ in cols) + '|']
    lines += ['| ' + ' | '.join(_fmt(k, r) for k, _ in cols) + ' |' for r in rows]
    return '\n'.join(lines) + '\n'


def add_gap_closed(rows: list[dict[str, Any]], methods: list[Method]) -> str | None:
    """Add ``gap`` (and ``gap@label`` per extra FR network) to every row: the share of the bicubic → HR
    verification-accuracy gap that the method closes, (acc − acc_bicubic) / (acc_HR − acc_bicubic).

    Needs a bicubic and an HR row among ``rows`` (``methods`` is aligned with ``rows``); returns the reason
    when it cannot be computed (None when it was), and leaves the rows untouched then.
    """
    # the plain baselines only: a back-projected bicubic (network_opt set) is a method, not the reference
    kinds = {(m.kind, m.mode): r for m, r in zip(methods, rows) if not m.network_opt or m.kind == 'network'}
    bicubic, hr = kinds.get(('interp', 'bicubic')), kinds.get(('hr', None))
    if bicubic is None or hr is None:
        return 'the gap closed needs both a bicubic and an hr method'
    for key in [k for k in hr if k == 'acc' or k.startswith('acc@')]:
        span = hr[key] - bicubic.get(key, float('nan'))
        if not span > 0:  # also catches NaN: HR must verify better than bicubic for a ratio to mean anything
            continue
        for r in rows:
            if key in r:
                r[key.replace('acc', 'gap', 1)] = (r[key] - bicubic[key]) / span
    return None


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith('_')}


def write_tables(rows: list[dict[str, Any]], out_dir: str, meta: dict[str, Any]) -> dict[str, str]:
    """results.md, results.csv and results.json under ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f'results.{k}') for k in ('md', 'csv', 'json')}
    with open(paths['md'], 'w') as f:
        f.write(markdown_table(rows, meta.get('title')))
    # per-fold lists (acc_folds, acc_folds@label) go to results.json only: CSV holds one number per cell
    order = [c for c, _ in COLUMNS]
    keys = sorted({k for r in rows for k, v in public(r).items() if not isinstance(v, list)},
                  key=lambda k: order.index(k) if k in order else 100)
    with open(paths['csv'], 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: v for k, v in public(r).items() if k in keys})
    with open(paths['json'], 'w') as f:
        json.dump({**meta, 'rows': [public(r) for r in rows]}, f, indent=2)
    return paths


def plot_roc(rows: list[dict[str, Any]], path: str, title: str = '') -> str | None:
    """ROC curves (TAR against FAR, log FAR axis) of every row with verification results."""
    curves = [(r['method'], *r['_roc'], r.get('auc')) for r in rows if '_roc' in r]
    if not curves:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for label, far, tar, auc in curves:
        keep = far > 0
        ax.plot(far[keep], tar[keep], label=f'{label} (AUC {auc:.4f})')
    ax.set_xscale('log')
    ax.set_xlim(1e-4, 1)
    ax.set_xlabel('False accept rate')
    ax.set_ylabel('True accept rate')
    ax.set_title(title or 'ROC')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _tile(img: torch.Tensor) -> Image.Image:
    arr = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(arr))


LINE_HEIGHT = 12  # pixels per header line of the figure


def label_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at 10 px (matplotlib ships it; it has Greek letters such as the λ of method labels), else
    PIL's default font."""
    try:
        from matplotlib import font_manager
        return ImageFont.truetype(font_manager.findfont('DejaVu Sans', fallback_to_default=True), 10)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default()


def wrap_label(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``width`` pixels wide in ``font`` (a word wider than a line
    is broken between characters); every character is kept."""
    lines: list[str] = []
    line = ''
    for word in text.split():
        cand = f'{line} {word}' if line else word
        if font.getlength(cand) <= width:
            line = cand
            continue
        if line:
            lines.append(line)
        line = ''
        for ch in word:
            if line and font.getlength(line + ch) > width:
                lines.append(line)
                line = ''
            line += ch
    if line or not lines:
        lines.append(line)
    return lines


@torch.no_grad()
def figure_grid(methods: list[Method], hr: torch.Tensor, lq: torch.Tensor, path: str,
                captions: list[str] | None = None) -> str:
    """Rows of faces, columns LR (nearest, enlarged) | bilinear / bicubic (those among ``methods``, else
    bicubic) | each network method | HR, with a header row.

    Args:
        methods: Loaded methods (the ``hr`` method is skipped: HR is the last column).
        hr: (N, 3, H, W) uint8 HR faces; lq: (N, 3, h, w) uint8 LR faces.
        captions: Optional text under each row's LR tile (e.g. the image name).
    """
    gt, lr = hr.float() / 255, lq.float() / 255
    scale = gt.shape[-1] // lr.shape[-1]
    cols = [('LR', pil_upsample(lr, scale, 'nearest'))]
    modes = [m.mode for m in methods if m.kind == 'interp'] or ['bicubic']
    cols += [(mode.capitalize(), pil_upsample(lr, scale, mode)) for mode in ('bilinear', 'bicubic') if mode in modes]
    cols += [(m.label, m.super_resolve(lr, gt)) for m in methods if m.kind == 'network']
    cols.append(('HR', gt))
    h, w = gt.shape[-2:]
    font = label_font()
    heads = [wrap_label(label, font, w - 6) for label, _ in cols]  # long labels wrap, never cut
    head, foot = 6 + LINE_HEIGHT * max(len(t) for t in heads), 14 if captions else 0
    canvas = Image.new('RGB', (w * len(cols), head + (h + foot) * len(gt)), 'white')
    draw = ImageDraw.Draw(canvas)
    for c, ((_, imgs), lines) in enumerate(zip(cols, heads)):
        for i, line in enumerate(lines):
            draw.text((c * w + 3, 3 + LINE_HEIGHT * i), line, fill='black', font=font)
        for r in range(len(gt)):
            canvas.paste(_tile(imgs[r]), (c * w, head + r * (h + foot)))
    for r, text in enumerate(captions or []):
        draw.text((3, head + r * (h + foot) + h + 1), text[:36], fill='black', font=font)
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    canvas.save(path)
    return path
