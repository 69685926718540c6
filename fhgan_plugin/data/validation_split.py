"""The validation split: held-out CelebA identities, never trained on, never in LFW.

Every choice of this project (loss weights, checkpoints, inference options) is made on these identities;
LFW ``pairs.txt`` is kept for the final evaluation only. The split is a committed list of CelebA identity
folders (:data:`VAL_IDENTITIES_FILE`), made once by :func:`choose_validation_identities`:

1. candidates: CelebA identities of ``../shared/data/celeba_id299`` with at least ``min_images`` photos, in
   the order of ``sha256(seed:identity)`` (a fixed shuffle);
2. screening: an identity is skipped when its face (the mean embedding of up to 5 photos) is closer than
   ``threshold`` (cosine) to any LFW person (pairs people and non-pair people alike), so that a celebrity
   photographed in both datasets can neither leak the test set nor be a training identity;
3. the first ``n`` candidates that pass.

The screen embeds faces with the shared pretrained MobileFaceNet (not trained by this project) after a fixed
warp of the 250x250 LFW-framed photo (the mean LFW landmarks,
:data:`~fhgan_plugin.data.alignment.LFW_MEAN_LANDMARKS_250`), so it needs no face detector.

``scripts/prepare_data.py`` then drops these identities from ``meta/train*.txt`` and writes their
aligned faces' pairs to ``meta/val_pairs.txt`` (:func:`make_validation_pairs`,
:func:`fhgan_plugin.data.pairs.write_pairs_list`).

Run ``python -m fhgan_plugin.data.validation_split --shared ../shared`` to re-make the list (it prints the
screening report; the committed list is what every option file and result uses).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fhgan_plugin.data.pairs import Pair

logger = logging.getLogger(__name__)

#: The committed validation identities (CelebA identity folder names), one per line.
VAL_IDENTITIES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'splits', 'celeba_val_identities.txt')
IMAGE_EXTS = ('.jpg', '.jpeg', '.png')


@dataclass(frozen=True)
class SplitConfig:
    """How the validation identities are chosen (the committed list used these defaults)."""

    n: int = 30
    min_images: int = 20
    seed: int = 0
    threshold: float = 0.5
    photos_per_identity: int = 5


def read_identity_list(path: str = VAL_IDENTITIES_FILE) -> list[str]:
    """Identity names of a list file (``#`` comments and blank lines ignored)."""
    with open(path) as f:
        return [ln.split('#')[0].strip() for ln in f if ln.split('#')[0].strip()]


def identity_images(root: str, people: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``{person: sorted relative image paths}`` of an ``<root>/<person>/<image>`` folder tree.

    Raises:
        FileNotFoundError: naming ``root`` or a listed person that is not a folder.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f'identity folder tree not found: {root}')
    if people is None:
        people = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    out = {}
    for person in people:
        d = os.path.join(root, person)
        if not os.path.isdir(d):
            raise FileNotFoundError(f'{d} is listed as a person but is not a folder')
        out[person] = [f'{person}/{f}' for f in sorted(os.listdir(d)) if f.lower().endswith(IMAGE_EXTS)]
    return out


def candidate_order(people: Sequence[str], seed: int) -> list[str]:
    """``people`` in the fixed pseudo-random order ``sha256('<seed>:<person>')``."""
    return sorted(people, key=lambda p: hashlib.sha256(f'{seed}:{p}'.encode()).hexdigest())


def choose_validation_identities(images: dict[str, list[str]], screen: Callable[[str], float],
                                 cfg: SplitConfig = SplitConfig()) -> tuple[list[str], dict[str, float]]:
    """The first ``cfg.n`` candidates (≥ ``cfg.min_images`` photos) whose ``screen(person)`` is below threshold.

    Args:
        images: ``{person: image paths}`` of the candidate dataset.
        screen: the largest cosine similarity of ``person`` to any person of the test/other dataset.
        cfg: sizes, seed and threshold.

    Returns:
        The chosen identities (in candidate order) and the screen value of every candidate looked at.

    Raises:
        ValueError: fewer than ``cfg.n`` candidates pass.
    """
    chosen, seen = [], {}
    for person in candidate_order([p for p, ims in images.items() if len(ims) >= cfg.min_images], cfg.seed):
        seen[person] = screen(person)
        if seen[person] < cfg.threshold:
            chosen.append(person)
            if len(chosen) == cfg.n:
                return chosen, seen
    raise ValueError(f'only {len(chosen)} of the candidates pass the screen (need {cfg.n}): lower n or min_images')


def make_validation_pairs(images: dict[str, list[str]], n_folds: int = 5, same_per_identity: int = 20,
                          seed: int = 0) -> list[Pair]:
    """Identity-disjoint folds of balanced same / different pairs.

    Identities go to folds round-robin in the given order; each fold holds up to ``same_per_identity`` random
    same-person pairs per identity and as many different-person pairs drawn between its own identities, so a
    threshold fitted on the other folds never saw a fold's people.

    Args:
        images: ``{identity: image paths}`` (paths as they should appear in the pairs file).
        n_folds: number of folds (each needs at least 2 identities).
        same_per_identity: same-person pairs per identity (fewer if it has fewer image pairs).
        seed: RNG seed of the sampling.

    Returns:
        Pairs, fold by fold, same pairs first.
    """
    people = [p for p, ims in images.items() if len(ims) >= 2]
    if len(people) < 2 * n_folds:
        raise ValueError(f'{len(people)} identities with >= 2 images cannot fill {n_folds} folds of >= 2 identities')
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for fold in range(n_folds):
        members = people[fold::n_folds]
        same = []
        for p in members:
            ims = images[p]
            combos = [(a, b) for i, a in enumerate(ims) for b in ims[i + 1:]]
            same += rng.sample(combos, min(same_per_identity, len(combos)))
        diff, used = [], set()
        while len(diff) < len(same):
            p, q = rng.sample(members, 2)
            a, b = rng.choice(images[p]), rng.choice(images[q])
            if (a, b) not in used and (b, a) not in used:
                used.add((a, b))
                diff.append((a, b))
        pairs += [Pair(a, b, True, fold) for a, b in same] + [Pair(a, b, False, fold) for a, b in diff]
    return pairs


# ---------------------------------------------------------------- the screen (needs torch and ../shared)

class FaceScreen:
    """Cosine similarity of a candidate identity to the nearest person of a reference set.

    Faces: 250x250 LFW-framed photos warped with the mean LFW landmarks (no detector); embeddings: the
    shared MobileFaceNet with flip concatenation, L2-normalised.

    Args:
        mobilefacenet: path of the shared ``mobilefacenet_casia_068.pth``.
        batch_size: faces per forward pass.
    """

    def __init__(self, mobilefacenet: str, batch_size: int = 64) -> None:
        import torch

        from fhgan_plugin.archs.face_recognizer import FaceEmbedder
        self.torch = torch
        self.net = FaceEmbedder({'type': 'FHMobileFaceNet'}, pretrain_path=mobilefacenet, flip_concat=True).eval()
        self.batch_size = batch_size
        self.reference: np.ndarray | None = None

    def embed_files(self, paths: Sequence[str], desc: str = 'faces') -> np.ndarray:
        """(N, D) unit embeddings of photos (read strictly; a broken file raises naming it)."""
        import cv2
        from tqdm import tqdm

        from fhgan_plugin.data.alignment import LFW_MEAN_LANDMARKS_250, warp_face
        from fhgan_plugin.utils.io import read_rgb
        out = []
        for i in tqdm(range(0, len(paths), self.batch_size), desc=f'embedding {desc}', unit='batch',
                      disable=len(paths) <= self.batch_size):
            faces = []
            for p in paths[i:i + self.batch_size]:
                img = read_rgb(p)
                if img.shape[:2] != (250, 250):
                    img = cv2.resize(img, (250, 250), interpolation=cv2.INTER_AREA)
                faces.append(warp_face(img, LFW_MEAN_LANDMARKS_250)[0])
            x = self.torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).float() / 255.0
            with self.torch.inference_mode():
                out.append(self.net.embed(x).numpy())
        return np.concatenate(out).astype(np.float64)

    def set_reference(self, paths: Sequence[str]) -> None:
        """Embed one photo per reference person."""
        self.reference = self.embed_files(paths, 'reference people')

    def __call__(self, paths: Sequence[str]) -> float:
        """Largest cosine similarity between the mean embedding of ``paths`` and any reference person."""
        if self.reference is None:
            raise RuntimeError('FaceScreen: call set_reference first')
        centre = self.embed_files(paths).mean(0)
        centre /= np.linalg.norm(centre)
        return float((self.reference @ centre).max())


def lfw_reference_photos(lfw_images: str) -> list[str]:
    """The first photo of every LFW person present (pairs people and non-pair people)."""
    return [os.path.join(lfw_images, ims[0]) for ims in identity_images(lfw_images).values() if ims]


def main(argv: list[str] | None = None) -> dict:
    from fhgan_plugin.utils.paths import shared_root
    parser = argparse.ArgumentParser(description='Re-make the committed validation identity list.')
    parser.add_argument('--shared', default=None, help='shared data root (default $FHGAN_SHARED or ../shared)')
    parser.add_argument('--out', default=VAL_IDENTITIES_FILE, help='identity list to write')
    parser.add_argument('--report', default=None, help='JSON screening report to write')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    shared = shared_root(args.shared, required=True)
    celeba = os.path.join(shared, 'data', 'celeba_id299')
    cfg = SplitConfig()
    screen = FaceScreen(os.path.join(shared, 'models', 'mobilefacenet_casia_068.pth'))
    screen.set_reference(lfw_reference_photos(os.path.join(shared, 'data', 'lfw', 'images_deepfunneled')))
    images = identity_images(celeba)
    chosen, seen = choose_validation_identities(
        images, lambda p: screen([os.path.join(celeba, r) for r in images[p][:cfg.photos_per_identity]]), cfg)
    from fhgan_plugin.utils.io import write_text
    write_text(args.out, '# CelebA identities held out for validation (fhgan_plugin/data/validation_split.py)\n'
               + ''.join(p + '\n' for p in chosen))
    report = {'config': cfg.__dict__, 'chosen': chosen, 'screened': seen,
              'skipped': sorted(p for p, s in seen.items() if s >= cfg.threshold),
              'reference_people': int(screen.reference.shape[0])}
    if args.report:
        write_text(args.report, json.dumps(report, indent=2) + '\n')
    logger.info('chose %d identities; %d candidates screened, skipped %s', len(chosen), len(seen), report['skipped'])
    return report


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
