"""Detect, 5-point align and crop faces: folder in -> folder out with the same relative layout.

Usage::

    python scripts/align_faces.py INPUT_DIR OUTPUT_DIR --detector-root ../shared/models/facexlib \\
        [--size 112] [--template-scale 1.0] [--all-faces] [--workers 2]

Every input gets a row in OUTPUT_DIR/manifest.csv (status, reason, score, landmarks); re-running skips
finished images. Unreadable, truncated, empty files and images without a face are logged and counted,
never fatal. Grey, CMYK, palette and alpha images are converted to RGB first.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fhgan_plugin.data.prepare import AlignConfig, align_images  # noqa: E402

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.gif')


def list_inputs(root: str) -> list[str]:
    """Relative paths of every file with an image extension under ``root`` (sorted)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f'input folder not found: {root}')
    rels = []
    for d, _, files in os.walk(root):
        rels += [os.path.relpath(os.path.join(d, f), root) for f in files if f.lower().endswith(IMAGE_EXTS)]
    return sorted(rels)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input')
    parser.add_argument('output')
    parser.add_argument('--detector-root', default=os.environ.get('FHGAN_FACEXLIB_ROOT', '../shared/models/facexlib'),
                        help='folder with facexlib detection_mobilenet0.25_Final.pth')
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--template-scale', type=float, default=1.0)
    parser.add_argument('--conf', type=float, default=0.9, help='detection threshold')
    parser.add_argument('--low-conf', type=float, default=0.3, help='retry threshold when nothing is found')
    parser.add_argument('--all-faces', action='store_true', help='align every face (<name>_<k>.png)')
    parser.add_argument('--fallback', action='store_true',
                        help='LFW-framed 250x250 inputs without a detection use the mean LFW landmarks')
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--manifest', default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    cfg = AlignConfig(args.detector_root, args.size, args.template_scale, args.conf, args.low_conf, args.fallback,
                      args.all_faces)
    rels = list_inputs(args.input)
    t = time.time()
    counts = align_images(rels, args.input, args.output, cfg, manifest=args.manifest, workers=args.workers)
    summary = {'inputs': len(rels), 'seconds': round(time.time() - t, 2), **counts}
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
