"""Metrics: the one verification protocol, registered for BasicSR's ``val.metrics``."""
from __future__ import annotations

from typing import Any

import numpy as np

from fhgan_plugin.metrics.verification import VerificationResult, kfold_verification
from fhgan_plugin.registry import register_metric


@register_metric
def calculate_verification_accuracy(scores: np.ndarray, issame: np.ndarray, folds: np.ndarray | None = None,
                                    **kwargs: Any) -> float:
    """Verification accuracy in % (10-fold, threshold chosen on the other folds) of pair similarity scores.

    Inside a model's validation, :class:`~fhgan_plugin.models.FaceSRModel` computes the scores from FR
    embeddings of the super-resolved faces of a pairs dataset and calls the same protocol.
    """
    return 100.0 * kfold_verification(np.asarray(scores), np.asarray(issame), folds).accuracy


__all__ = ['calculate_verification_accuracy', 'kfold_verification', 'VerificationResult']
