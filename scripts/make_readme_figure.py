"""The README's figures: a tiny face in, restored faces out, from a public-domain photo (PNG out), and the same
face under each probe condition of the real-input evaluation (``--conditions-out``).

The photo is ``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain). Its face is aligned to the
ArcFace 112x112 template from 5 landmarks, degraded to 28x28 by the canonical bilinear x4 (antialias), and
restored by PIL bicubic and each shipped generator. Panels, left to right: the 28x28 input (nearest-neighbour
enlarged), bicubic, the shipped models, the aligned original.

The conditions figure has one row per probe condition (fhgan_plugin/evaluation/conditions.py: clean 28 px, 14 / 20 px
faces, blur, noise, JPEG, the surveillance preset; the same seeds as the evaluation's), columns: the 28x28 probe,
bicubic, each shipped x4 FH-GAN, the original.

Usage::

    python scripts/make_readme_figure.py [--out docs/figures/astronaut.png] [--detector-root ../shared/models/facexlib]
        [--conditions-out docs/figures/astronaut_conditions.png]

Without ``--detector-root`` the landmarks are the ones RetinaFace (mobilenet0.25) found on this photo
(:data:`ASTRONAUT_LANDMARKS`), so the figure needs no detector.
"""
from __future__ import annotations

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from fhgan_plugin.data.alignment import warp_face  # noqa: E402
from fhgan_plugin.data.degradation import canonical_degradation  # noqa: E402
from fhgan_plugin.evaluation.conditions import CONDITIONS, make_probes  # noqa: E402
from fhgan_plugin.inference import load_generator  # noqa: E402
from fhgan_plugin.model_zoo import SHIPPED_MODELS, resolve_weights  # noqa: E402
from fhgan_plugin.utils.cli import run_cli  # noqa: E402
from fhgan_plugin.utils.io import write_bytes  # noqa: E402
from fhgan_plugin.utils.upsample import pil_upsample  # noqa: E402

#: RetinaFace mobilenet0.25 landmarks (eyes, nose, mouth corners) of skimage.data.astronaut(), score 0.9995.
ASTRONAUT_LANDMARKS = np.array([[203.6, 101.1], [247.5, 104.5], [223.3, 129.3], [200.9, 138.4], [245.6, 141.2]])
LABELS = {'dsnet-psnr-x4-cpu': 'DSNet-PSNR', 'fhgan-x4-cpu': 'FH-GAN', 'fhgan-x4-real-cpu': 'FH-GAN real'}
#: The models of each figure (the x8 ones take another framing and input size).
FIGURE_MODELS = ('dsnet-psnr-x4-cpu', 'fhgan-x4-cpu', 'fhgan-x4-real-cpu')
CONDITION_MODELS = ('fhgan-x4-cpu', 'fhgan-x4-real-cpu')


def panels(photo: np.ndarray, landmarks: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, 112x112 uint8 RGB) panels of the figure."""
    hr_u8 = warp_face(photo, landmarks)[0]
    hr = torch.from_numpy(hr_u8).permute(2, 0, 1)[None].float() / 255
    lr = canonical_degradation(hr)  # the 28x28 input, on the uint8 grid
    out = [('input 28x28', lr), ('bicubic', pil_upsample(lr, 4, 'bicubic'))]
    for name in (n for n in FIGURE_MODELS if n in SHIPPED_MODELS):
        out.append((LABELS[name], restore(name, lr)))
    out.append(('original', hr))
    return [(label, _uint8(x)) for label, x in out]


def _uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@torch.no_grad()
def restore(name: str, lr: torch.Tensor) -> torch.Tensor:
    """A shipped model's (1, 3, 112, 112) output for a (1, 3, 28, 28) input."""
    path, arch = resolve_weights(name)
    return load_generator(path, arch)(lr).clamp(0, 1)


def condition_rows(photo: np.ndarray, landmarks: np.ndarray) -> list[list[tuple[str, np.ndarray]]]:
    """One row of (label, 112x112 uint8 RGB) panels per probe condition."""
    hr_u8 = torch.from_numpy(warp_face(photo, landmarks)[0]).permute(2, 0, 1)[None]
    rows = []
    for cond in CONDITIONS:
        lr = make_probes(hr_u8, ['astronaut'], cond, 28)[0].float() / 255
        row = [(f'{cond}: input', lr), ('bicubic', pil_upsample(lr, 4, 'bicubic'))]
        row += [(LABELS[n], restore(n, lr)) for n in CONDITION_MODELS if n in SHIPPED_MODELS]
        rows.append([(text, _uint8(x)) for text, x in row] + [('original', _uint8(hr_u8.float() / 255))])
    return rows


def grid(items: list[tuple[str, np.ndarray]], side: int = 224, label_h: int = 22) -> Image.Image:
    """Panels side by side, each enlarged to ``side`` pixels (nearest), with its label below."""
    canvas = Image.new('RGB', (side * len(items), side + label_h), 'white')
    draw = ImageDraw.Draw(canvas)
    for k, (label, img) in enumerate(items):
        canvas.paste(Image.fromarray(img).resize((side, side), Image.NEAREST), (k * side, 0))
        w = draw.textlength(label)
        draw.text((k * side + (side - w) / 2, side + 5), label, fill='black')
    return canvas


def stack(rows: list[Image.Image]) -> Image.Image:
    """Grids one above the other."""
    canvas = Image.new('RGB', (max(r.width for r in rows), sum(r.height for r in rows)), 'white')
    y = 0
    for r in rows:
        canvas.paste(r, (0, y))
        y += r.height
    return canvas


def save_png(img: Image.Image, path: str) -> None:
    import io
    buf = io.BytesIO()
    img.save(buf, format='PNG', optimize=True)
    write_bytes(path, buf.getvalue())


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=os.path.join(REPO, 'docs', 'figures', 'astronaut.png'))
    p.add_argument('--detector-root', default=None, help='re-detect the landmarks with RetinaFace from this folder')
    p.add_argument('--conditions-out', default=os.path.join(REPO, 'docs', 'figures', 'astronaut_conditions.png'),
                   help="the probe-conditions figure ('' to skip)")
    args = p.parse_args(argv)
    from skimage.data import astronaut
    photo = astronaut()
    landmarks = ASTRONAUT_LANDMARKS
    if args.detector_root:
        from fhgan_plugin.data.alignment import FaceDetector, pick_central
        det = pick_central(FaceDetector(args.detector_root).detect(np.ascontiguousarray(photo[:, :, ::-1])),
                           photo.shape)
        landmarks = det.landmarks
    save_png(grid(panels(photo, landmarks)), args.out)
    if args.conditions_out:
        save_png(stack([grid(row, side=112) for row in condition_rows(photo, landmarks)]), args.conditions_out)
    return args.out


if __name__ == '__main__':
    sys.exit(run_cli(main, 'make_readme_figure'))
