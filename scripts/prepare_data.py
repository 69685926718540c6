"""Rebuild every prepared face set of this project from the read-only ``../shared`` data.

Usage::

    python scripts/prepare_data.py [--shared ../shared] [--out datasets] [--workers 2]

Idempotent and resumable: each set keeps a manifest and finished images are skipped. Output
(under ``--out``, default ``$FHGAN_DATA`` or ``datasets/``)::

    faces112/lfw_pairs/<Person>/<Person>_NNNN.png   all 7,701 images used by LFW pairs.txt (test only)
    faces112/lfw_train/<Person>/...png              LFW people never in pairs.txt (training)
    faces112/celeba/<identity>/...png               CelebA identity subset (training and validation)
    faces112/<set>/manifest.csv                     status, detection score and landmarks per input
    meta/train.txt, meta/train_labels.txt           training images (and integer identity labels): LFW
                                                    non-pair people + CelebA minus the validation identities
    meta/val_pairs.txt                              validation pairs (1,200) of the 30 held-out CelebA identities
    meta/val_images.txt                             their faces (for PSNR / SSIM validation)
    meta/lfw_pairs_all.txt, meta/lfw_val500.txt     LFW test images (all / a fixed 500-image subset)
    meta/lfw_pairs.txt                              a copy of LFW's pairs.txt (final evaluation only)
    face_sr_x8/<set>_LR16/*.png, <set>_landmarks.csv the ×8 benchmark (celeba1000, helen50): 16x16 inputs by
                                                    MATLAB-style bicubic, 5 landmarks per HR crop (test only)
    face_sr_x8/celeba1000_pairs.txt, template128.json verification pairs of CelebA-1000 (written once, kept) and
                                                    the mean landmarks of its crops (the ×8 framing)
    faces128_x8/{celeba,lfw_train}/...png           ×8 training faces aligned to that framing at 128x128: CelebA
                                                    minus every photo of a CelebA-1000 person, LFW non-pair people
    meta/x8_train.txt, x8_train_labels.txt          their training list (and identity labels)
    meta/x8_val_images.txt, x8_val_pairs.txt        the ×8 validation identities' faces and pairs
    faces128_x8/helen50_framing/..., meta/x8_train_2framings.txt, x8_{2framings,largefaces}_val_images.txt
                                                    the same faces aligned to the Helen-50 framing
                                                    (face_sr_x8/template128_helen50.json), training on both

The validation identities are the committed list ``fhgan_plugin/data/splits/celeba_val_identities.txt``
(``fhgan_plugin/data/validation_split.py``: screened against every LFW person). Every choice is made on them;
LFW is never used for one.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from fhgan_plugin.data.pairs import parse_lfw_pairs, unique_images, write_pairs_list  # noqa: E402
from fhgan_plugin.data.prepare import AlignConfig, align_images, read_manifest  # noqa: E402
from fhgan_plugin.data.validation_split import make_validation_pairs, read_identity_list  # noqa: E402
from fhgan_plugin.evaluation.cli import positive_int  # noqa: E402
from fhgan_plugin.utils.cli import add_debug_flag, run_cli  # noqa: E402
from fhgan_plugin.utils.paths import data_root, shared_root  # noqa: E402

SETS = ('lfw_pairs', 'lfw_train', 'celeba', 'x8_benchmark', 'x8_train')


def _list_people_images(root: str, people: list[str]) -> list[str]:
    rels = []
    for person in people:
        d = os.path.join(root, person)
        if not os.path.isdir(d):
            raise FileNotFoundError(f'{d} listed as a person but is not a folder')
        rels += [f'{person}/{f}' for f in sorted(os.listdir(d)) if f.lower().endswith(('.jpg', '.jpeg', '.png'))]
    return rels


def _ok_rows(manifest: str, prefix: str) -> list[str]:
    rows = read_manifest(manifest)
    return sorted(prefix + os.path.splitext(r)[0] + '.png' for r, row in rows.items()
                  if row['status'] in ('detected', 'detected_low', 'fallback'))


def split_training(rows: list[tuple[str, str]], val_people: set[str]) -> tuple[list[tuple[str, str]],
                                                                             dict[str, list[str]]]:
    """Training rows ``(rel, '<set>:<person>')`` without the validation people, and ``{person: rels}`` of those.

    ``val_people`` are CelebA identity names; only ``celeba:`` rows are matched.
    """
    train, val = [], {}
    for rel, name in rows:
        prefix, person = name.split(':', 1)
        if prefix == 'celeba' and person in val_people:
            val.setdefault(person, []).append(rel)
        else:
            train.append((rel, name))
    return train, val


def make_lmdb(faces: str, lmdb_path: str) -> dict:
    """Pack every aligned PNG under ``faces`` into a BasicSR LMDB (keys: relative path without extension)."""
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    rels = sorted(os.path.relpath(os.path.join(d, f), faces) for d, _, fs in os.walk(faces) for f in fs
                  if f.endswith('.png'))
    if os.path.isdir(lmdb_path):
        shutil.rmtree(lmdb_path)
    make_lmdb_from_imgs(faces, lmdb_path, rels, [os.path.splitext(r)[0] for r in rels], multiprocessing_read=True)
    return {'path': lmdb_path, 'images': len(rels)}


def prepare_x8_training(shared: str, out: str, lfw_img: str, celeba: str, faces: str, meta: str) -> dict:
    """The ×8 training faces (``faces128_x8/``) and their lists: CelebA minus the overlap with CelebA-1000 and minus
    the validation identities (whose remaining faces are the ×8 validation set), plus the LFW non-pair people."""
    from fhgan_plugin.data.face_sr_x8 import (
        HELEN_FRAMING_DIR,
        helen_template,
        prepare_training,
        read_overlap,
        read_template,
    )
    template = read_template(os.path.join(out, 'face_sr_x8', 'template128.json'))
    overlap = read_overlap(os.path.join(shared, 'data', 'face_sr_x8', 'overlap_with_celeba_id299.txt'))
    sources = [('celeba', celeba, os.path.join(faces, 'celeba', 'manifest.csv')),
               ('lfw_train', lfw_img, os.path.join(faces, 'lfw_train', 'manifest.csv'))]
    done = prepare_training(sources, os.path.join(out, 'faces128_x8'), template, exclude=overlap)
    # the same photos in Helen-50's framing (larger, higher faces), for training on both of the benchmark's framings
    helen = prepare_training(sources, os.path.join(out, 'faces128_x8', HELEN_FRAMING_DIR),
                             helen_template(os.path.join(out, 'face_sr_x8')), exclude=overlap)
    if helen != done:
        raise RuntimeError('the two framings of the x8 training faces list different photos')
    val_people = read_identity_list()
    rows = [(r, ('celeba:' if r.startswith('celeba/') else 'lfw:') + r.split('/')[1])
            for rs in done.values() for r in rs]
    train, val = split_training(rows, set(val_people))
    val = {p: val[p] for p in val_people if p in val}
    with open(os.path.join(meta, 'x8_train.txt'), 'w') as f:
        f.writelines(r + '\n' for r, _ in train)
    ids = {name: i for i, name in enumerate(sorted({n for _, n in train}))}
    with open(os.path.join(meta, 'x8_train_labels.txt'), 'w') as f:
        f.writelines(f'{r} {ids[n]}\n' for r, n in train)
    with open(os.path.join(meta, 'x8_val_images.txt'), 'w') as f:
        f.writelines(r + '\n' for p in val for r in val[p])
    pairs = make_validation_pairs(val)
    write_pairs_list(os.path.join(meta, 'x8_val_pairs.txt'), pairs)
    with open(os.path.join(meta, 'x8_train_2framings.txt'), 'w') as f:
        f.writelines(r + '\n' for r, _ in train)
        f.writelines(f'{HELEN_FRAMING_DIR}/{r}\n' for r, _ in train)
    with open(os.path.join(meta, 'x8_largefaces_val_images.txt'), 'w') as f:
        f.writelines(f'{HELEN_FRAMING_DIR}/{r}\n' for p in val for r in val[p])
    with open(os.path.join(meta, 'x8_2framings_val_images.txt'), 'w') as f:
        f.writelines(r + '\n' for p in val for r in val[p])
        f.writelines(f'{HELEN_FRAMING_DIR}/{r}\n' for p in val for r in val[p])
    return {'train': len(train), 'train_identities': len(ids), 'excluded_overlap': len(overlap),
            'val_identities': len(val), 'val_images': sum(map(len, val.values())), 'val_pairs': len(pairs)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--shared', default=None, help='shared data root (default $FHGAN_SHARED or ../shared)')
    parser.add_argument('--out', default=None, help='output root (default $FHGAN_DATA or datasets/)')
    parser.add_argument('--workers', type=positive_int, default=2)
    parser.add_argument('--sets', nargs='+', default=list(SETS), choices=SETS, help='which sets to prepare')
    parser.add_argument('--lmdb', action='store_true',
                        help="also pack faces112/ into faces112.lmdb with BasicSR's make_lmdb_from_imgs")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    shared = shared_root(args.shared, required=True)
    out = data_root(args.out)
    lfw = os.path.join(shared, 'data', 'lfw')
    lfw_img = os.path.join(lfw, 'images_deepfunneled')
    celeba = os.path.join(shared, 'data', 'celeba_id299')
    det_root = os.path.join(shared, 'models', 'facexlib')
    faces = os.path.join(out, 'faces112')
    meta = os.path.join(out, 'meta')
    os.makedirs(meta, exist_ok=True)
    report: dict = {}
    t0 = time.time()
    if 'lfw_pairs' in args.sets:
        pairs = parse_lfw_pairs(os.path.join(lfw, 'pairs.txt'))
        rels = unique_images(pairs)
        # every pairs image must be aligned: fall back to the mean LFW landmarks if no face is found
        cfg = AlignConfig(det_root, fallback=True)
        t = time.time()
        counts = align_images(rels, lfw_img, os.path.join(faces, 'lfw_pairs'), cfg, workers=args.workers,
                              desc='LFW pairs images')
        report['lfw_pairs'] = dict(counts, inputs=len(rels), seconds=round(time.time() - t, 1))
        shutil.copyfile(os.path.join(lfw, 'pairs.txt'), os.path.join(meta, 'lfw_pairs.txt'))
        ok = _ok_rows(os.path.join(faces, 'lfw_pairs', 'manifest.csv'), 'lfw_pairs/')
        with open(os.path.join(meta, 'lfw_pairs_all.txt'), 'w') as f:
            f.writelines(r + '\n' for r in ok)
        with open(os.path.join(meta, 'lfw_val500.txt'), 'w') as f:
            f.writelines(r + '\n' for r in ok[::len(ok) // 500][:500])
    train: list[tuple[str, str]] = []
    identity_sets = {}
    if 'lfw_train' in args.sets:
        with open(os.path.join(lfw, 'train_people_not_in_pairs.txt')) as f:
            identity_sets['lfw_train'] = (lfw_img, [ln.strip() for ln in f if ln.strip()], 'LFW non-pair people')
    if 'celeba' in args.sets:
        people = sorted(d for d in os.listdir(celeba) if os.path.isdir(os.path.join(celeba, d)))
        identity_sets['celeba'] = (celeba, people, 'CelebA identities')
    for name, (src, people, desc) in identity_sets.items():
        rels = _list_people_images(src, people)
        t = time.time()
        counts = align_images(rels, src, os.path.join(faces, name), AlignConfig(det_root), workers=args.workers,
                              desc=desc)
        report[name] = dict(counts, inputs=len(rels), seconds=round(time.time() - t, 1))
        prefix = 'lfw' if name == 'lfw_train' else name
        train += [(r, f'{prefix}:' + r.split('/')[1])
                  for r in _ok_rows(os.path.join(faces, name, 'manifest.csv'), f'{name}/')]
    if 'celeba' in args.sets:
        val_people = read_identity_list()
        train, val = split_training(train, set(val_people))
        missing = sorted(set(val_people) - set(val))
        if missing:
            raise FileNotFoundError(f'validation identities without aligned faces in {celeba}: {missing}')
        val = {p: val[p] for p in val_people}  # committed order: folds are round-robin over it
        pairs = make_validation_pairs(val)
        write_pairs_list(os.path.join(meta, 'val_pairs.txt'), pairs)
        with open(os.path.join(meta, 'val_images.txt'), 'w') as f:
            f.writelines(r + '\n' for p in val_people for r in val[p])
        report['validation'] = {'identities': len(val), 'images': sum(map(len, val.values())), 'pairs': len(pairs)}
    if train:
        ids = {name: i for i, name in enumerate(sorted({n for _, n in train}))}
        with open(os.path.join(meta, 'train.txt'), 'w') as f:
            f.writelines(r + '\n' for r, _ in train)
        with open(os.path.join(meta, 'train_labels.txt'), 'w') as f:
            f.writelines(f'{r} {ids[n]}\n' for r, n in train)
        report['train'] = {'images': len(train), 'identities': len(ids)}
    if 'x8_benchmark' in args.sets:
        from fhgan_plugin.data.face_sr_x8 import prepare_benchmark
        report['x8_benchmark'] = prepare_benchmark(os.path.join(shared, 'data', 'face_sr_x8'),
                                                   os.path.join(out, 'face_sr_x8'), det_root)
    if 'x8_train' in args.sets:
        report['x8_train'] = prepare_x8_training(shared, out, lfw_img, celeba, faces, meta)
    if args.lmdb:
        report['lmdb'] = make_lmdb(faces, os.path.join(out, 'faces112.lmdb'))
    report['seconds'] = round(time.time() - t0, 1)
    with open(os.path.join(out, 'prepare_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    logging.info('prepared data in %s: %s', out, json.dumps(report))
    return report


if __name__ == '__main__':
    sys.exit(run_cli(main, 'prepare_data'))
