"""Where shared (read-only) data, prepared data and pretrained weights live.

Nothing here is downloaded: every location is a path given by an argument, an environment variable
or the workplace convention (``../shared`` beside the repository).
"""
from __future__ import annotations

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shared_root(path: str | None = None, required: bool = False) -> str | None:
    """The shared data root: ``path``, else ``$FHGAN_SHARED``, else ``../shared`` beside the repo.

    Args:
        path: Explicit location.
        required: Raise FileNotFoundError (saying what to set) when it does not exist.
    """
    cand = path or os.environ.get('FHGAN_SHARED') or os.path.join(os.path.dirname(REPO_ROOT), 'shared')
    if os.path.isdir(cand):
        return os.path.abspath(cand)
    if required:
        raise FileNotFoundError(f'shared data folder not found at {cand}: pass --shared or set FHGAN_SHARED '
                                '(it must hold data/lfw, data/celeba_id299 and models/)')
    return None


def data_root(path: str | None = None) -> str:
    """The prepared-data cache: ``path``, else ``$FHGAN_DATA``, else ``datasets/`` in the repository."""
    return os.path.abspath(path or os.environ.get('FHGAN_DATA') or os.path.join(REPO_ROOT, 'datasets'))
