"""Write the canonical LR version of every aligned HR face in a folder (bilinear x4 with antialias, uint8 PNG).

Same relative names (extension .png) under the output folder, e.g. the 7,701 aligned LFW pair faces
(112x112) -> 28x28 inputs for ``fhgan-hallucinate``::

    python scripts/degrade_faces.py datasets/faces112/lfw_pairs results/lfw_lr28
    fhgan-hallucinate results/lfw_lr28 -o results/lfw_sr112

``--condition`` writes instead the probes of one condition of the real-input evaluation
(fhgan_plugin/evaluation/conditions.py: size14, blur2, jpeg30, realistic, ...), the same bytes as
``scripts/evaluate.py --protocol`` makes with the same ``--seed`` (each face's LR is fixed by the seed, the condition
and its relative path)::

    python scripts/degrade_faces.py datasets/faces112/lfw_pairs results/lfw_realistic --condition realistic
    fhgan-hallucinate results/lfw_realistic -o results/lfw_realistic_sr --weights fhgan-x4-real-cpu
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from fhgan_plugin.data.degradation import canonical_degradation  # noqa: E402
from fhgan_plugin.inference import list_inputs  # noqa: E402


def degrade_folder(src: str, dst: str, scale: int = 4, condition: str | None = None,
                   seed: int = 0) -> dict[str, object]:
    """Degrade every image under ``src`` into ``dst``; unreadable or indivisible images are listed, not fatal.
    ``condition``: a probe condition's degradation (:data:`fhgan_plugin.evaluation.conditions.CONDITIONS`) instead of
    the canonical one."""
    deg = None
    if condition is not None:
        from fhgan_plugin.data.real_degradation import RealDegradation, image_seed
        from fhgan_plugin.evaluation.conditions import CONDITIONS
        if condition not in CONDITIONS:
            raise SystemExit(f'degrade_faces: --condition {condition!r} is not one of {list(CONDITIONS)}')
        deg = RealDegradation.from_options(CONDITIONS[condition][1], f'condition {condition}')
    root, rels = list_inputs(src)
    written, failed = 0, []
    for rel in tqdm(rels, desc='degrading', unit='img'):
        img = cv2.imread(os.path.join(root, rel), cv2.IMREAD_COLOR)
        if img is None:
            failed.append([rel, 'unreadable'])
            continue
        if img.shape[0] % scale or img.shape[1] % scale:
            failed.append([rel, f'size {img.shape[1]}x{img.shape[0]} is not divisible by {scale}'])
            continue
        hr = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1])).permute(2, 0, 1).float() / 255
        lr = canonical_degradation(hr, scale) if deg is None else \
            deg(hr, hr.shape[-1] // scale, image_seed(seed, f'{condition}/{rel}'))
        out = os.path.join(dst, os.path.splitext(rel)[0] + '.png')
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cv2.imwrite(out, (lr * 255).round().byte().permute(1, 2, 0).numpy()[:, :, ::-1])
        written += 1
    return {'written': written, 'failed': failed}


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('src')
    p.add_argument('dst')
    p.add_argument('--scale', type=int, default=4)
    p.add_argument('--condition', default=None, help='a probe condition of scripts/evaluate.py --protocol')
    p.add_argument('--seed', type=int, default=0, help='with --condition: the protocol seed')
    args = p.parse_args(argv)
    report = degrade_folder(args.src, args.dst, args.scale, args.condition, args.seed)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
