"""The one place files are read and written: checked, atomic writes and strict image reads.

* Every write goes to ``<path>.tmp`` in the destination folder and is renamed onto ``path`` only when it
  is complete, so a failure (read-only folder, full disk, a killed process) never leaves a truncated file
  behind and never replaces a good one. A failed write raises :class:`~fhgan_plugin.errors.WriteError`
  naming the path; nothing is "reported written" that is not on disk (``cv2.imwrite`` only returns False).
* :func:`read_rgb` decodes the whole image and refuses truncated or corrupt files (OpenCV's ``imread``
  returns a half-grey image for a truncated JPEG, with only a libjpeg warning on stderr).
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from collections.abc import Callable
from typing import IO, Any

import cv2
import numpy as np
import torch
from PIL import Image

from fhgan_plugin.errors import InputError, WriteError

#: errno values after which no later write to the same place can succeed (stop, do not retry per file).
FATAL_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT})


def _tmp_path(path: str) -> str:
    return f'{path}.tmp'


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(f)`` on a binary file ``<path>.tmp``, then rename it onto ``path`` (parent folders made).

    Raises:
        WriteError: naming ``path`` and the OS reason; the temporary file is removed, ``path`` untouched.
    """
    path = os.fspath(path)
    tmp = _tmp_path(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(tmp, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise WriteError(f'cannot write {path}: {err.strerror or err}', path, err.errno) from err
    except BaseException:
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(data))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    write_bytes(path, text.encode('utf-8'))


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def encode_image(path: str, img: np.ndarray) -> bytes:
    """Encode a (H, W, 3) BGR or (H, W) uint8 image in the format of ``path``'s extension."""
    ext = os.path.splitext(path)[1].lower() or '.png'
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise WriteError(f'cannot encode an image of shape {tuple(img.shape)} as {ext} for {path}', path, errno.EINVAL)
    return buf.tobytes()


def write_image(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write a uint8 BGR image (OpenCV order) to ``path`` atomically, format from the extension.

    Raises:
        WriteError: the image could not be encoded or written (the message names the path).
    """
    path = os.fspath(path)
    write_bytes(path, encode_image(path, img))


def read_rgb(path: str) -> np.ndarray:
    """Read any image PIL can decode (grey, CMYK, RGBA, palette…) completely, as (H, W, 3) uint8 RGB.

    Raises:
        InputError: naming the file when it is missing, empty, truncated or not an image.
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise InputError(f'cannot read image {path}: {err.strerror or err}') from err
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # decodes everything: a truncated file raises here
            if im.mode != 'RGB':
                im = im.convert('RGB')
            return np.asarray(im, dtype=np.uint8).copy()
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        raise InputError(f'cannot read image {path}: {type(err).__name__}: {err}') from err


def image_size(path: str) -> tuple[int, int]:
    """(height, width) of an image from its header only (no decoding).

    Raises:
        InputError: the file is missing or not an image.
    """
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception as err:  # noqa: BLE001
        raise InputError(f'cannot read image {path}: {type(err).__name__}: {err}') from err
    return h, w


def file_digest(path: str) -> str:
    """sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


class DigestCache:
    """sha256 of files, remembered by (size, mtime) in a JSON file so that re-runs hash only what changed.

    A file whose size or modification time differs from the remembered one is hashed again; the cache is
    only a speed-up (deleting it changes no result).

    Args:
        path: The JSON file (None: remember nothing, hash every time).
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._entries: dict[str, list] = {}
        self._dirty = False
        if path and os.path.isfile(path):
            try:
                with open(path) as f:
                    self._entries = dict(json.load(f))
            except (OSError, ValueError):
                self._entries = {}  # a damaged cache is rebuilt

    def digest(self, file: str) -> str:
        st = os.stat(file)
        key = os.path.abspath(file)
        hit = self._entries.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        value = file_digest(file)
        self._entries[key] = [st.st_size, st.st_mtime_ns, value]
        self._dirty = True
        return value

    def files_digest(self, root: str, rels: list[str]) -> str:
        """One sha256 over the relative names and contents of ``rels`` under ``root`` (saved afterwards)."""
        h = hashlib.sha256()
        for rel in rels:
            h.update(f'{rel}\0{self.digest(os.path.join(root, rel))}\n'.encode())
        self.save()
        return h.hexdigest()

    def save(self) -> None:
        if self.path and self._dirty:
            write_text(self.path, json.dumps(self._entries))
            self._dirty = False
