"""The README's figure: a tiny face in, restored faces out, from a public-domain photo (PNG out).

The photo is ``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain). Its face is aligned to the
ArcFace 112x112 template from 5 landmarks, degraded to 28x28 by the canonical bilinear x4 (antialias), and
restored by PIL bicubic and each shipped generator. Panels, left to right: the 28x28 input (nearest-neighbour
enlarged), bicubic, the shipped models, the aligned original.

Usage::

    python scripts/make_readme_figure.py [--out docs/figures/astronaut.png] [--detector-root ../shared/models/facexlib]

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
from fhgan_plugin.inference import load_generator  # noqa: E402
from fhgan_plugin.model_zoo import SHIPPED_MODELS, resolve_weights  # noqa: E402
from fhgan_plugin.utils.cli import run_cli  # noqa: E402
from fhgan_plugin.utils.io import write_bytes  # noqa: E402
from fhgan_plugin.utils.upsample import pil_upsample  # noqa: E402

#: RetinaFace mobilenet0.25 landmarks (eyes, nose, mouth corners) of skimage.data.astronaut(), score 0.9995.
ASTRONAUT_LANDMARKS = np.array([[203.6, 101.1], [247.5, 104.5], [223.3, 129.3], [200.9, 138.4], [245.6, 141.2]])
LABELS = {'dsnet-psnr-x4-cpu': 'DSNet-PSNR', 'fhgan-x4-cpu': 'FH-GAN'}


def panels(photo: np.ndarray, landmarks: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, 112x112 uint8 RGB) panels of the figure."""
    hr_u8 = warp_face(photo, landmarks)[0]
    hr = torch.from_numpy(hr_u8).permute(2, 0, 1)[None].float() / 255
    lr = canonical_degradation(hr)  # the 28x28 input, on the uint8 grid
    out = [('input 28x28', lr), ('bicubic', pil_upsample(lr, 4, 'bicubic'))]
    for name in sorted(SHIPPED_MODELS, key=lambda n: (n != 'dsnet-psnr-x4-cpu', n)):  # PSNR model first
        path, arch = resolve_weights(name)
        with torch.no_grad():
            out.append((LABELS.get(name, name), load_generator(path, arch)(lr).clamp(0, 1)))
    out.append(('original', hr))
    return [(label, (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)) for label, x in out]


def grid(items: list[tuple[str, np.ndarray]], side: int = 224, label_h: int = 22) -> Image.Image:
    """Panels side by side, each enlarged to ``side`` pixels (nearest), with its label below."""
    canvas = Image.new('RGB', (side * len(items), side + label_h), 'white')
    draw = ImageDraw.Draw(canvas)
    for k, (label, img) in enumerate(items):
        canvas.paste(Image.fromarray(img).resize((side, side), Image.NEAREST), (k * side, 0))
        w = draw.textlength(label)
        draw.text((k * side + (side - w) / 2, side + 5), label, fill='black')
    return canvas


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=os.path.join(REPO, 'docs', 'figures', 'astronaut.png'))
    p.add_argument('--detector-root', default=None, help='re-detect the landmarks with RetinaFace from this folder')
    args = p.parse_args(argv)
    from skimage.data import astronaut
    photo = astronaut()
    landmarks = ASTRONAUT_LANDMARKS
    if args.detector_root:
        from fhgan_plugin.data.alignment import FaceDetector, pick_central
        det = pick_central(FaceDetector(args.detector_root).detect(np.ascontiguousarray(photo[:, :, ::-1])),
                           photo.shape)
        landmarks = det.landmarks
    import io
    buf = io.BytesIO()
    grid(panels(photo, landmarks)).save(buf, format='PNG', optimize=True)
    write_bytes(args.out, buf.getvalue())
    return args.out


if __name__ == '__main__':
    sys.exit(run_cli(main, 'make_readme_figure'))
