"""Check aligned faces: re-detect landmarks on the aligned output and draw a grid (JSON + PNG out).

For N aligned LFW images (warped again from the originals with context, so the detector sees a normal
framing) it reports the distance of re-detected landmarks (a) to the ArcFace template and (b) to the
original landmarks carried through the same warp (detector consistency), in 112-pixel units, and
saves a grid of aligned faces with re-detected landmarks (green) and the template (red).

Usage::  python scripts/check_alignment.py [--n 500] [--grid results/alignment_grid.png]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from fhgan_plugin.data.alignment import ARCFACE_TEMPLATE_112, FaceDetector, pick_central, redetect_landmarks, warp_face  # noqa: E402
from fhgan_plugin.data.pairs import parse_lfw_pairs, unique_images  # noqa: E402
from fhgan_plugin.utils.paths import shared_root  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--shared', default=None)
    parser.add_argument('--n', type=int, default=500)
    parser.add_argument('--grid', default='results/alignment_grid.png')
    parser.add_argument('--out', default='results/alignment_check.json')
    args = parser.parse_args(argv)
    shared = shared_root(args.shared, required=True)
    lfw = os.path.join(shared, 'data', 'lfw')
    det = FaceDetector(os.path.join(shared, 'models', 'facexlib'))
    rels = unique_images(parse_lfw_pairs(os.path.join(lfw, 'pairs.txt')))
    rels = rels[::max(1, len(rels) // args.n)][:args.n]
    to_tpl, to_orig, tiles, missed = [], [], [], 0
    for rel in tqdm(rels, desc='re-detect', mininterval=5):
        bgr = cv2.imread(os.path.join(lfw, 'images_deepfunneled', rel))
        face = pick_central(det.detect(bgr, 0.9), bgr.shape)
        if face is None:
            missed += 1
            continue
        aligned, _ = warp_face(bgr, face.landmarks, 112)
        again, carried = redetect_landmarks(det, bgr, face.landmarks)
        if again is None:
            missed += 1
            continue
        to_tpl.append(np.linalg.norm(again - ARCFACE_TEMPLATE_112, axis=1).mean())
        to_orig.append(np.linalg.norm(again - carried, axis=1).mean())
        if len(tiles) < 48:
            big = cv2.resize(aligned, (224, 224), interpolation=cv2.INTER_CUBIC)
            for (x, y) in ARCFACE_TEMPLATE_112 * 2:
                cv2.circle(big, (int(x), int(y)), 4, (0, 0, 255), 1)
            for (x, y) in again * 2:
                cv2.circle(big, (int(x), int(y)), 2, (0, 255, 0), -1)
            tiles.append(big)
    rows = [np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles) - len(tiles) % 8, 8)]
    os.makedirs(os.path.dirname(os.path.abspath(args.grid)), exist_ok=True)
    cv2.imwrite(args.grid, np.vstack(rows))
    res = {'images': len(rels), 'redetected': len(to_tpl), 'missed': missed,
           'to_template_px': {'mean': float(np.mean(to_tpl)), 'median': float(np.median(to_tpl)),
                              'p95': float(np.percentile(to_tpl, 95)), 'max': float(np.max(to_tpl))},
           'to_carried_landmarks_px': {'mean': float(np.mean(to_orig)), 'median': float(np.median(to_orig)),
                                       'p95': float(np.percentile(to_orig, 95)), 'max': float(np.max(to_orig))},
           'grid': args.grid}
    with open(args.out, 'w') as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))
    return res


if __name__ == '__main__':
    main()
