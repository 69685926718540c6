"""The project's one implementation of the face-verification protocol (LFW / CFP style).

Folds are taken in protocol order; for each fold the threshold is the one with the best accuracy on
the *other* folds, and accuracy is measured on the held-out fold; the result is mean ± std over folds.
Scores are similarities (higher = more likely the same person); a pair is predicted "same" when its
score is strictly greater than the threshold.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class VerificationResult:
    """Per-fold accuracies and thresholds, with their mean and standard deviation."""
    accuracy: float
    std: float
    fold_accuracies: list[float]
    thresholds: list[float]


def candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """Midpoints between consecutive distinct scores, plus one below the lowest and one above the highest."""
    u = np.unique(scores)
    mids = (u[:-1] + u[1:]) / 2.0
    return np.concatenate([[u[0] - 1.0], mids, [u[-1] + 1.0]])


def best_threshold(scores: np.ndarray, issame: np.ndarray) -> tuple[float, float]:
    """The threshold with the highest accuracy on (scores, issame); ties go to the lowest threshold."""
    th = candidate_thresholds(scores)
    acc = ((scores[None, :] > th[:, None]) == issame[None, :]).mean(1)
    i = int(np.argmax(acc))
    return float(th[i]), float(acc[i])


def kfold_verification(scores: np.ndarray, issame: np.ndarray, folds: np.ndarray | None = None,
                       n_folds: int = 10) -> VerificationResult:
    """k-fold verification accuracy with the threshold chosen on the other folds.

    Args:
        scores: (N,) similarity per pair.
        issame: (N,) bool, same person.
        folds: (N,) fold index per pair (protocol order); default: ``n_folds`` contiguous equal blocks.

    Returns:
        :class:`VerificationResult` (accuracy in [0, 1]; std is the population std over folds).
    """
    scores = np.asarray(scores, dtype=np.float64)
    issame = np.asarray(issame, dtype=bool)
    if scores.shape != issame.shape or scores.ndim != 1:
        raise ValueError(f'scores {scores.shape} and issame {issame.shape} must be equal 1-D shapes')
    if not np.isfinite(scores).all():
        raise ValueError('verification scores contain NaN or inf')
    if folds is None:
        folds = np.arange(len(scores)) * n_folds // len(scores)
    folds = np.asarray(folds)
    if len(np.unique(folds)) < 2:
        raise ValueError('k-fold verification needs pairs from at least 2 folds (the threshold is chosen on the '
                         'other folds)')
    accs, ths = [], []
    for k in np.unique(folds):
        test = folds == k
        th, _ = best_threshold(scores[~test], issame[~test])
        accs.append(float(((scores[test] > th) == issame[test]).mean()))
        ths.append(th)
    return VerificationResult(float(np.mean(accs)), float(np.std(accs)), accs, ths)


@dataclass
class PairedFoldComparison:
    """Method A minus method B, fold by fold, on the same folds (accuracies in percent)."""
    differences: list[float]
    mean: float
    std: float
    folds_a_better: int
    folds_b_better: int


def paired_fold_difference(folds_a: list[float], folds_b: list[float]) -> PairedFoldComparison:
    """Per-fold accuracy differences A − B of two methods evaluated on the same folds.

    Two methods on the same pairs share most of their fold-to-fold variation (some folds are harder for
    every method), so the std of the paired difference is the spread to compare a lead with; each method's
    own fold std overstates it.

    Args:
        folds_a: per-fold accuracies of method A (``acc_folds`` of an evaluation row).
        folds_b: the same for method B, same folds in the same order.

    Raises:
        ValueError: different numbers of folds, fewer than 2 folds, or non-finite values.
    """
    a, b = np.asarray(folds_a, dtype=np.float64), np.asarray(folds_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f'need the same number (>= 2) of folds for both methods, got {a.shape} and {b.shape}')
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError('fold accuracies contain NaN or inf')
    d = a - b
    return PairedFoldComparison([float(x) for x in d], float(d.mean()), float(d.std()), int((d > 0).sum()),
                                int((d < 0).sum()))


def roc_curve(scores: np.ndarray, issame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC over all pairs: (FAR, TAR, thresholds), thresholds descending, "same" when ``score > threshold``.

    The curve starts at (0, 0) (threshold above every score) and ends at (1, 1).
    """
    scores = np.asarray(scores, dtype=np.float64)
    issame = np.asarray(issame, dtype=bool)
    if issame.all() or not issame.any():
        raise ValueError('a ROC curve needs both genuine and impostor pairs')
    th = candidate_thresholds(scores)[::-1]
    pos, neg = np.sort(scores[issame]), np.sort(scores[~issame])
    tar = 1.0 - np.searchsorted(pos, th, side='right') / len(pos)
    far = 1.0 - np.searchsorted(neg, th, side='right') / len(neg)
    return far, tar, th


def roc_auc(scores: np.ndarray, issame: np.ndarray) -> float:
    """Area under the ROC curve (= P(genuine score > impostor score), ties counted half)."""
    far, tar, _ = roc_curve(scores, issame)
    return float(np.sum((far[1:] - far[:-1]) * (tar[1:] + tar[:-1]) / 2.0))


def tar_at_far(scores: np.ndarray, issame: np.ndarray, far_target: float = 1e-3) -> float:
    """The highest TAR whose FAR is at most ``far_target`` (over all pairs; LFW has 3,000 impostor pairs,
    so FAR = 1e-3 allows 3 false accepts)."""
    far, tar, _ = roc_curve(scores, issame)
    return float(tar[far <= far_target].max())


def pair_arrays(images: list[str], pairs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(index of image 1, index of image 2, same person, fold) of every pair, indices into ``images``.

    Args:
        images: The unique image names, in the order their embeddings are stacked.
        pairs: Objects with ``path1``, ``path2``, ``issame`` and ``fold`` (:class:`fhgan_plugin.data.pairs.Pair`).
    """
    index = {r: i for i, r in enumerate(images)}
    return (np.array([index[p.path1] for p in pairs], dtype=np.int64),
            np.array([index[p.path2] for p in pairs], dtype=np.int64),
            np.array([p.issame for p in pairs], dtype=bool), np.array([p.fold for p in pairs]))


def pair_scores(emb: torch.Tensor, i1: np.ndarray, i2: np.ndarray) -> np.ndarray:
    """Cosine similarity (float64) of the pairs ``(i1[k], i2[k])`` of (N, D) embeddings (normalised here)."""
    e = torch.nn.functional.normalize(emb.detach().double().cpu(), dim=1)
    return (e[torch.as_tensor(i1)] * e[torch.as_tensor(i2)]).sum(1).numpy()


def verify_embeddings(emb: torch.Tensor, images: list[str], pairs: Sequence[Any]) -> VerificationResult:
    """The k-fold protocol (:func:`kfold_verification`) on the pairs of ``images`` embedded as ``emb``: what
    training validation, the evaluation suite and the scripts all report."""
    i1, i2, same, folds = pair_arrays(images, pairs)
    return kfold_verification(pair_scores(emb, i1, i2), same, folds)


#: Verification protocols: 'lr-lr' (both faces of a pair degraded and super-resolved) and 'gallery-probe' (one face
#: stays HR, the gallery; the other, the probe, is degraded and super-resolved; :func:`probe_sides`).
PROTOCOLS = ('lr-lr', 'gallery-probe')


def probe_sides(n_pairs: int) -> np.ndarray:
    """Which face of each pair is the probe under 'gallery-probe', fixed by the protocol: image 1 in even pairs,
    image 2 in odd ones ((n_pairs,) int64, 0 or 1), so that every fold and both classes have probes on both sides."""
    return np.arange(n_pairs, dtype=np.int64) % 2


def gallery_probe_scores(probe_emb: torch.Tensor, gallery_emb: torch.Tensor, i1: np.ndarray, i2: np.ndarray,
                         sides: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of each pair's probe (``probe_emb``: SR of the degraded face) and gallery (``gallery_emb``:
    the HR face); both (N, D) over the same image list, ``sides`` as :func:`probe_sides` (its default)."""
    sides = probe_sides(len(i1)) if sides is None else np.asarray(sides)
    probe = np.where(sides == 0, i1, i2)
    gallery = np.where(sides == 0, i2, i1)
    p = torch.nn.functional.normalize(probe_emb.detach().double().cpu(), dim=1)[torch.as_tensor(probe)]
    g = torch.nn.functional.normalize(gallery_emb.detach().double().cpu(), dim=1)[torch.as_tensor(gallery)]
    return (p * g).sum(1).numpy()


def verify_gallery_probe(probe_emb: torch.Tensor, gallery_emb: torch.Tensor, images: list[str],
                         pairs: Sequence[Any]) -> VerificationResult:
    """The k-fold protocol under 'gallery-probe' (:func:`gallery_probe_scores`, sides by :func:`probe_sides`)."""
    i1, i2, same, folds = pair_arrays(images, pairs)
    return kfold_verification(gallery_probe_scores(probe_emb, gallery_emb, i1, i2), same, folds)
