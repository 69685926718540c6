"""Verification pair lists (LFW ``pairs.txt`` View 2 format)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Pair:
    """One verification pair: two image paths relative to the image root, same person or not, fold index."""
    path1: str
    path2: str
    issame: bool
    fold: int


def lfw_image_rel(name: str, idx: int, ext: str = '.jpg') -> str:
    """LFW relative path ``<Name>/<Name>_NNNN<ext>``."""
    return f'{name}/{name}_{idx:04d}{ext}'


def parse_lfw_pairs(path: str, ext: str = '.jpg') -> list[Pair]:
    """Parse LFW's ``pairs.txt`` (first line ``n_folds n_per_class``, then per fold n same + n different).

    Raises:
        ValueError: naming the file and line for a malformed header or pair line.
    """
    with open(path) as f:
        lines = [ln.rstrip('\n') for ln in f]
    if not lines:
        raise ValueError(f'{path}: empty pairs file')
    head = lines[0].split()
    try:
        n_folds, n_per = int(head[0]), int(head[1])
    except (IndexError, ValueError) as err:
        raise ValueError(f'{path}:1: expected "<folds> <pairs per class>", got {lines[0]!r}') from err
    pairs: list[Pair] = []
    body = [(i + 2, ln) for i, ln in enumerate(lines[1:]) if ln.strip()]
    if len(body) != n_folds * 2 * n_per:
        raise ValueError(f'{path}: header promises {n_folds}x2x{n_per} = {n_folds * 2 * n_per} pairs, '
                         f'found {len(body)} lines')
    for k, (lineno, ln) in enumerate(body):
        fold = k // (2 * n_per)
        parts = ln.split()
        try:
            if len(parts) == 3:
                a, b = lfw_image_rel(parts[0], int(parts[1]), ext), lfw_image_rel(parts[0], int(parts[2]), ext)
                p = Pair(a, b, True, fold)
            elif len(parts) == 4:
                a, b = lfw_image_rel(parts[0], int(parts[1]), ext), lfw_image_rel(parts[2], int(parts[3]), ext)
                p = Pair(a, b, False, fold)
            else:
                raise ValueError('expected 3 or 4 fields')
        except ValueError as err:
            raise ValueError(f'{path}:{lineno}: malformed pair line {ln!r} ({err})') from err
        pairs.append(p)
    return pairs


def unique_images(pairs: list[Pair]) -> list[str]:
    """Sorted unique relative image paths used by the pairs."""
    return sorted({p.path1 for p in pairs} | {p.path2 for p in pairs})


def check_pair_images(pairs: list[Pair], root: str, source: str = 'pairs') -> None:
    """Raise FileNotFoundError naming the first pair image missing under ``root``."""
    for i, p in enumerate(pairs):
        for rel in (p.path1, p.path2):
            if not os.path.isfile(os.path.join(root, rel)):
                raise FileNotFoundError(f'{source}: pair {i} names {rel}, which is not in {root}')


def _read_cfp_list(path: str) -> dict[int, str]:
    """CFP ``Pair_list_{F,P}.txt``: lines ``<index> <path>`` (paths like ``../Data/Images/001/frontal/01.jpg``)."""
    out: dict[int, str] = {}
    with open(path) as f:
        for lineno, ln in enumerate(f, 1):
            if not ln.strip():
                continue
            parts = ln.split()
            if len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f'{path}:{lineno}: expected "<index> <image path>", got {ln.rstrip()!r}')
            rel = parts[1]
            while rel.startswith('../'):
                rel = rel[3:]
            out[int(parts[0])] = rel
    return out


def parse_cfp_pairs(protocol_dir: str, setting: str = 'FP') -> list[Pair]:
    """Parse the CFP protocol (``Protocol/Split/{FF,FP}/NN/{same,diff}.txt`` + ``Pair_list_{F,P}.txt``).

    Args:
        protocol_dir: CFP's ``Protocol`` folder.
        setting: 'FF' (frontal-frontal) or 'FP' (frontal-profile: first image frontal, second profile).

    Returns:
        Pairs in protocol order (split 01 same, split 01 diff, split 02 same, …), paths relative to
        the CFP root (``Data/Images/...``), fold = split index (0-based).
    """
    if setting not in ('FF', 'FP'):
        raise ValueError(f"CFP setting must be 'FF' or 'FP', got {setting!r}")
    frontal = _read_cfp_list(os.path.join(protocol_dir, 'Pair_list_F.txt'))
    second = frontal if setting == 'FF' else _read_cfp_list(os.path.join(protocol_dir, 'Pair_list_P.txt'))
    split_root = os.path.join(protocol_dir, 'Split', setting)
    if not os.path.isdir(split_root):
        raise FileNotFoundError(f'CFP split folder not found: {split_root}')
    splits = sorted(d for d in os.listdir(split_root) if d.isdigit())
    pairs: list[Pair] = []
    for fold, split in enumerate(splits):
        for kind, same in (('same', True), ('diff', False)):
            path = os.path.join(split_root, split, f'{kind}.txt')
            with open(path) as f:
                for lineno, ln in enumerate(f, 1):
                    if not ln.strip():
                        continue
                    parts = ln.replace(',', ' ').split()
                    try:
                        i, j = int(parts[0]), int(parts[1])
                        a, b = frontal[i], second[j]
                    except (ValueError, IndexError) as err:
                        raise ValueError(f'{path}:{lineno}: malformed pair line {ln.rstrip()!r}') from err
                    except KeyError as err:
                        raise ValueError(f'{path}:{lineno}: index {err} is not in the pair list') from err
                    pairs.append(Pair(a, b, same, fold))
    return pairs


PAIRS_KINDS = ('lfw', 'cfp', 'list')
PAIRS_LIST_HEADER = '# fhgan-plugin verification pairs: <image 1> <image 2> <1 same / 0 different> <fold>'


def write_pairs_list(path: str, pairs: Sequence[Pair]) -> None:
    """Write pairs in the plain list format read by :func:`parse_pairs_list`."""
    from fhgan_plugin.utils.io import write_text
    write_text(path, PAIRS_LIST_HEADER + '\n' + ''.join(
        f'{p.path1} {p.path2} {int(p.issame)} {p.fold}\n' for p in pairs))


def parse_pairs_list(path: str) -> list[Pair]:
    """Pairs of a list file: ``<image 1> <image 2> <1|0> <fold>`` per line, ``#`` lines ignored.

    Raises:
        ValueError: naming the file and line of a malformed line, or an empty file.
    """
    pairs = []
    with open(path) as f:
        for lineno, ln in enumerate(f, 1):
            if not ln.strip() or ln.lstrip().startswith('#'):
                continue
            parts = ln.split()
            if len(parts) != 4 or parts[2] not in ('0', '1') or not parts[3].isdigit():
                raise ValueError(f'{path}:{lineno}: expected "<image 1> <image 2> <1|0> <fold>", got {ln.rstrip()!r}')
            pairs.append(Pair(parts[0], parts[1], parts[2] == '1', int(parts[3])))
    if not pairs:
        raise ValueError(f'{path}: no pairs')
    return pairs



def read_pairs_file(path: str, kind: str = 'lfw', setting: str = 'FP', ext: str = '.jpg') -> list[Pair]:
    """Pairs from an LFW ``pairs.txt`` (``kind='lfw'``), a CFP ``Protocol`` folder (``kind='cfp'``) or a plain
    ``<image 1> <image 2> <1|0> <fold>`` list such as ``meta/val_pairs.txt`` (``kind='list'``)."""
    if kind == 'lfw':
        return parse_lfw_pairs(path, ext)
    if kind == 'cfp':
        return parse_cfp_pairs(path, setting)
    if kind == 'list':
        return parse_pairs_list(path)
    raise ValueError(f'pairs kind must be one of {PAIRS_KINDS}, got {kind!r}')
