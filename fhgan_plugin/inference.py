"""Face hallucination for end users: aligned LR faces -> SR faces, or whole photos with faces pasted back.

Python::

    from fhgan_plugin.inference import hallucinate
    report = hallucinate('lr_faces/', 'sr_faces/', weights='net_g_latest.pth')            # aligned mode
    report = hallucinate('photos/', 'out/', weights='net_g_latest.pth', mode='photo',
                         detector_root='../shared/models/facexlib')                        # photo mode

Command line: ``fhgan-hallucinate INPUT -o OUTPUT [--weights W] [--mode photo] …`` (``--help``); without
``--weights`` the shipped FH-GAN generator (``fhgan_plugin/model_zoo.py``) is used.

* aligned mode: every image under INPUT (a file or a folder, recursively) is an aligned LR face (28x28
  for the 112x112 ArcFace framing; any size works, the output is ``scale`` times larger); the SR face is
  written as PNG under OUTPUT with the same relative name.
* photo mode: faces are detected (facexlib RetinaFace, weights from a folder) on the photo upscaled
  ``scale`` times (bicubic), each is aligned to the ArcFace template at 112x112, degraded canonically
  to 28x28, hallucinated, and pasted back with a feathered mask (GFPGAN's paste-back). Written:
  ``<name>.png`` (the upscaled photo with the faces pasted) and ``<name>_face<k>.png`` (SR crops). It
  is meant for small faces: a face much larger than 28 px in the photo gains nothing from x4 SR.

Unreadable files are reported and skipped; they never stop the batch.
"""
from __future__ import annotations

import argparse
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fhgan_plugin.archs.dsnet_arch import DSNET_CONFIGS, DSNet
from fhgan_plugin.archs.dsnet_fast import optimize_dsnet
from fhgan_plugin.data.alignment import FaceDetector, warp_face
from fhgan_plugin.data.degradation import canonical_degradation
from fhgan_plugin.data.face_sr_dataset import IMG_EXTENSIONS
from fhgan_plugin.model_zoo import DEFAULT_MODEL, SHIPPED_MODELS, resolve_weights
from fhgan_plugin.utils.checkpoint import CheckpointMismatchError, load_state_dict_checked, read_state_dict
from fhgan_plugin.utils.paths import shared_root

logger = logging.getLogger('fhgan_plugin')
#: The optimised-inference settings scripts/benchmark.py measured fastest on CPU (README "Speed").
FAST_DSNET_SETTINGS: dict[str, Any] = {'channels_last': True, 'backend': 'eager'}


@dataclass
class HallucinationReport:
    """What a run wrote and what it skipped (path, reason)."""

    written: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    faces: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {'written': len(self.written), 'faces': self.faces, 'failed': [list(f) for f in self.failed]}


def load_generator(weights: str, arch: dict[str, Any] | None = None, param_key: str | None = None,
                   device: torch.device | str = 'cpu') -> nn.Module:
    """An SR generator in eval mode from a checkpoint.

    Args:
        weights: BasicSR ``net_g_*.pth`` (``params`` / ``params_ema``) or a bare state dict.
        arch: BasicSR arch options (``{type: ..., ...}``); None: a DSNet whose named configuration
            (:data:`DSNET_CONFIGS`) fits the checkpoint.
        param_key: Key of the state dict inside the file (None: auto).
        device: Where the network runs.

    Raises:
        FileNotFoundError: the weights file is missing.
        CheckpointMismatchError: no configuration fits (the message says how to pass one).
    """
    state = read_state_dict(weights, param_key)
    if arch is not None:
        from fhgan_plugin.evaluation.methods import build_arch
        net = build_arch(arch)
        load_state_dict_checked(net, state, source=weights)
        return net.eval().to(device)
    for name in DSNET_CONFIGS:
        net = DSNet.from_config(name)
        try:
            load_state_dict_checked(net, state, source=weights)
        except CheckpointMismatchError:
            continue
        logger.info('%s: DSNet config %r', weights, name)
        return net.eval().to(device)
    raise CheckpointMismatchError(f'{weights} fits none of the DSNet configs {sorted(DSNET_CONFIGS)}; pass the '
                                  "architecture, e.g. --arch 'DSNet(num_feat=48,num_block=5)' or "
                                  "'RRDBNet(num_in_ch=3,num_out_ch=3)'")


def list_inputs(path: str) -> tuple[str, list[str]]:
    """(root, relative image paths) of a file or a folder (recursive, sorted)."""
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path)), [os.path.basename(path)]
    if not os.path.isdir(path):
        raise FileNotFoundError(f'input {path!r} is neither a file nor a folder')
    rels = []
    for dirpath, dirs, files in os.walk(path):
        dirs.sort()
        rels += [os.path.relpath(os.path.join(dirpath, f), path) for f in sorted(files)
                 if f.lower().endswith(IMG_EXTENSIONS)]
    if not rels:
        raise FileNotFoundError(f'no images ({", ".join(IMG_EXTENSIONS)}) under {path}')
    return path, rels


def _read_bgr(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError('not a readable image')
    return img


def _to_tensor(bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1])).permute(2, 0, 1).float() / 255.0


def _to_bgr(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((t.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()[..., ::-1])


@torch.inference_mode()
def _sr(net: nn.Module, lq: torch.Tensor) -> torch.Tensor:
    device = next(net.parameters()).device
    return net(lq.to(device)).float().clamp(0, 1).cpu()


def hallucinate_aligned(net: nn.Module, root: str, rels: list[str], out_dir: str, batch_size: int = 64,
                        report: HallucinationReport | None = None) -> HallucinationReport:
    """Aligned mode (module docstring): images of the same size are batched together."""
    report = report or HallucinationReport()
    by_size: dict[tuple[int, int], list[tuple[str, torch.Tensor]]] = defaultdict(list)
    todo = []
    for rel in rels:
        try:
            todo.append((rel, _to_tensor(_read_bgr(os.path.join(root, rel)))))
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported, never fatal
            report.failed.append((rel, f'{type(err).__name__}: {err}'))
            logger.warning('skipped %s: %s', rel, err)
    for rel, t in todo:
        by_size[tuple(t.shape[-2:])].append((rel, t))
    bar = tqdm(total=len(todo), desc='hallucinate', unit='face')
    for items in by_size.values():
        for s in range(0, len(items), batch_size):
            chunk = items[s:s + batch_size]
            out = _sr(net, torch.stack([t for _, t in chunk]))
            for (rel, _), sr in zip(chunk, out):
                dst = os.path.join(out_dir, os.path.splitext(rel)[0] + '.png')
                os.makedirs(os.path.dirname(dst) or '.', exist_ok=True)
                cv2.imwrite(dst, _to_bgr(sr))
                report.written.append(dst)
            bar.update(len(chunk))
    bar.close()
    report.faces += len(report.written)
    return report


def paste_back(canvas: np.ndarray, face: np.ndarray, mat: np.ndarray, feather: int = 6) -> np.ndarray:
    """Warp an aligned face back into ``canvas`` with the inverse of ``mat`` (canvas -> face coordinates)
    and blend it with a mask feathered over ``feather`` pixels of the face's border."""
    h, w = canvas.shape[:2]
    inv = cv2.invertAffineTransform(mat)
    warped = cv2.warpAffine(face, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = np.zeros(face.shape[:2], np.float32)
    mask[feather:-feather, feather:-feather] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), feather / 2.0)
    mask = cv2.warpAffine(mask, inv, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return (mask * warped + (1 - mask) * canvas).round().clip(0, 255).astype(np.uint8)


def hallucinate_photo(net: nn.Module, detector: FaceDetector, img_bgr: np.ndarray, scale: int = 4,
                      conf_threshold: float = 0.5, face_size: int = 112) -> tuple[np.ndarray, list[np.ndarray]]:
    """Photo mode for one (H, W, 3) uint8 BGR photo: the upscaled photo with SR faces pasted, and the faces."""
    h, w = img_bgr.shape[:2]
    big = cv2.resize(img_bgr, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    dets = detector.detect(big, conf_threshold)
    faces = []
    for det in dets:
        aligned, mat = warp_face(big, det.landmarks, face_size, interpolation=cv2.INTER_AREA)
        lq = canonical_degradation(_to_tensor(aligned)[None], scale)
        face = _to_bgr(_sr(net, lq)[0])
        big = paste_back(big, face, mat)
        faces.append(face)
    return big, faces


def hallucinate(inputs: str, output: str, weights: str | None = None, mode: str = 'aligned',
                arch: dict[str, Any] | None = None, batch_size: int = 64, device: str = 'auto',
                detector_root: str | None = None, scale: int = 4, conf_threshold: float = 0.5,
                optimize: bool = True) -> HallucinationReport:
    """Hallucinate a file or folder of aligned LR faces (``mode='aligned'``) or of photos (``'photo'``).

    ``weights``: a generator checkpoint path or the name of a shipped model
    (:data:`fhgan_plugin.model_zoo.SHIPPED_MODELS`); None: the default shipped model. ``optimize``: run a
    DSNet through :func:`~fhgan_plugin.archs.dsnet_fast.optimize_dsnet` (same outputs to float tolerance,
    faster: see ``scripts/benchmark.py``). Returns a :class:`HallucinationReport`; see the module docstring
    for what is written.
    """
    if mode not in ('aligned', 'photo'):
        raise ValueError(f"mode must be 'aligned' or 'photo', got {mode!r}")
    dev = torch.device('cuda' if device == 'auto' and torch.cuda.is_available() else
                       ('cpu' if device == 'auto' else device))
    path, shipped_arch = resolve_weights(weights)
    net = load_generator(path, arch if arch is not None else shipped_arch, device=dev)
    if optimize and isinstance(net, DSNet):
        net = optimize_dsnet(net, **FAST_DSNET_SETTINGS)
    root, rels = list_inputs(inputs)
    os.makedirs(output, exist_ok=True)
    if mode == 'aligned':
        return hallucinate_aligned(net, root, rels, output, batch_size)
    if detector_root is None:
        shared = shared_root()
        detector_root = os.path.join(shared, 'models', 'facexlib') if shared else 'facexlib_weights'
    detector = FaceDetector(detector_root, device=str(dev))
    report = HallucinationReport()
    for rel in tqdm(rels, desc='photos', unit='photo'):
        try:
            big, faces = hallucinate_photo(net, detector, _read_bgr(os.path.join(root, rel)), scale, conf_threshold)
        except Exception as err:  # noqa: BLE001 - a bad photo is reported, never fatal
            report.failed.append((rel, f'{type(err).__name__}: {err}'))
            logger.warning('skipped %s: %s', rel, err)
            continue
        stem = os.path.join(output, os.path.splitext(rel)[0])
        os.makedirs(os.path.dirname(stem) or '.', exist_ok=True)
        cv2.imwrite(stem + '.png', big)
        report.written.append(stem + '.png')
        for k, face in enumerate(faces):
            cv2.imwrite(f'{stem}_face{k}.png', face)
        report.faces += len(faces)
        if not faces:
            logger.warning('%s: no face found (the photo is still written, upscaled)', rel)
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='an image or a folder (recursive)')
    p.add_argument('-o', '--output', required=True)
    p.add_argument('--weights', default=None,
                   help=f'generator checkpoint (BasicSR net_g_*.pth) or a shipped model name {sorted(SHIPPED_MODELS)} '
                        f'(default: {DEFAULT_MODEL})')
    p.add_argument('--no-optimize', action='store_true', help='run the training module as is (no FastDSNet)')
    p.add_argument('--arch', default=None,
                   help="arch spec 'Type(key=value,...)' (default: the DSNet config that fits the weights)")
    p.add_argument('--mode', default='aligned', choices=['aligned', 'photo'])
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--device', default='auto')
    p.add_argument('--detector-root', default=None, help='folder of facexlib RetinaFace weights (photo mode)')
    p.add_argument('--scale', type=int, default=4)
    p.add_argument('--conf', type=float, default=0.5, help='face detection threshold (photo mode)')
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s: %(message)s')
    arch = None
    if args.arch:
        from fhgan_plugin.evaluation.methods import parse_arch_spec
        arch = parse_arch_spec(args.arch)
    report = hallucinate(args.input, args.output, args.weights, args.mode, arch, args.batch_size, args.device,
                         args.detector_root, args.scale, args.conf, optimize=not args.no_optimize)
    summary = report.as_dict()
    logger.info('wrote %d files (%d faces) to %s; %d failed', summary['written'], summary['faces'], args.output,
                len(summary['failed']))
    for rel, why in report.failed:
        logger.info('  failed: %s (%s)', rel, why)
    return summary


def console() -> None:
    """Console-script entry point (exit status 0; ``main`` returns the summary for Python callers)."""
    main()


if __name__ == '__main__':
    console()
