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

Nothing is lost and nothing is reported that did not happen: outputs that would collide (``a.jpg`` and
``a.png``) or overwrite inputs are refused before any work; unreadable or truncated inputs are reported
and skipped (they never stop the batch); every write is checked and a failed one is counted and named,
and after a full disk or a read-only file system no further write is tried. ``fhgan-hallucinate`` exits
0 only when every input was written, 1 when anything failed, 2 on a user error (one line, no traceback).
Aligned inputs of any size work: one forward pass stays within ``--max-memory`` GB (larger images are
super-resolved in overlapping tiles with the same result).
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fhgan_plugin.archs.dsnet_arch import DSNET_CONFIGS, DSNet
from fhgan_plugin.archs.dsnet_fast import fast_inference
from fhgan_plugin.data.alignment import FaceDetector, warp_face
from fhgan_plugin.data.degradation import canonical_degradation
from fhgan_plugin.data.face_sr_dataset import IMG_EXTENSIONS
from fhgan_plugin.errors import InputError, WriteError
from fhgan_plugin.model_zoo import DEFAULT_MODEL, SHIPPED_MODELS, resolve_weights
from fhgan_plugin.utils.checkpoint import CheckpointMismatchError, load_state_dict_checked, read_state_dict
from fhgan_plugin.utils.cli import add_debug_flag, run_cli
from fhgan_plugin.utils.io import FATAL_WRITE_ERRNOS, image_size, read_rgb, write_image
from fhgan_plugin.utils.paths import shared_root

logger = logging.getLogger('fhgan_plugin')
#: Default activation memory of one forward pass (``--max-memory``); larger aligned inputs are tiled.
DEFAULT_MAX_MEMORY_GB = 4.0


@dataclass
class HallucinationReport:
    """What a run wrote and what failed: (input or output path, reason). Nothing in ``written`` is missing
    from disk: every write is checked (:func:`fhgan_plugin.utils.io.write_image`)."""

    written: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    faces: int = 0
    inputs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {'inputs': self.inputs, 'written': len(self.written), 'faces': self.faces,
                'failed': [list(f) for f in self.failed]}


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
    """(root, relative image paths) of a file or a folder (recursive, sorted).

    Raises:
        InputError: the path does not exist, or holds no image.
    """
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path)), [os.path.basename(path)]
    if not os.path.isdir(path):
        raise InputError(f'input {path!r} is neither a file nor a folder')
    rels = []
    for dirpath, dirs, files in os.walk(path):
        dirs.sort()
        rels += [os.path.relpath(os.path.join(dirpath, f), path) for f in sorted(files)
                 if f.lower().endswith(IMG_EXTENSIONS)]
    if not rels:
        raise InputError(f'no images ({", ".join(IMG_EXTENSIONS)}) under {path}')
    return path, rels


def plan_outputs(root: str, rels: list[str], out_dir: str, mode: str = 'aligned') -> dict[str, str]:
    """Output path of every input (``<out_dir>/<rel without extension>.png``), checked before any work.

    Raises:
        InputError: the output is an existing file, the output folder is the input folder or inside it
            (outputs would overwrite inputs or be read as inputs next time), or two inputs would write the
            same output (``a.jpg`` and ``a.png``; in photo mode also ``a.jpg`` and ``a_face0.jpg``, whose
            names collide with ``a``'s face crops).
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f'output {out_dir!r} exists and is not a folder: pass -o with a folder path')
    out_abs, root_abs = os.path.realpath(out_dir), os.path.realpath(root)
    if out_abs == root_abs or out_abs.startswith(root_abs + os.sep):
        raise InputError(f'output folder {out_dir!r} is the input folder or inside it: outputs would overwrite or '
                         'mix with the inputs; choose an output folder outside the input')
    plan: dict[str, str] = {}
    by_dst: dict[str, str] = {}
    for rel in rels:
        dst = os.path.join(out_dir, os.path.splitext(rel)[0] + '.png')
        key = os.path.normcase(os.path.realpath(dst))
        if key in by_dst:
            raise InputError(f'inputs {by_dst[key]!r} and {rel!r} would both be written to {dst!r}: rename one of '
                             'them (outputs are PNG with the input\'s name)')
        by_dst[key] = rel
        plan[rel] = dst
    if mode == 'photo':
        stems = {os.path.normcase(os.path.splitext(r)[0]): r for r in rels}
        for rel in rels:
            stem = os.path.normcase(os.path.splitext(rel)[0])
            base, sep, k = stem.rpartition('_face')
            if sep and k.isdigit() and base in stems:
                raise InputError(f'input {rel!r} would be overwritten by face crop {k} of {stems[base]!r} '
                                 "(photo mode writes <name>_face<k>.png): rename one of them")
    return plan


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0


def _to_bgr(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((t.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()[..., ::-1])


def activation_bytes_per_pixel(net: nn.Module, probe: int = 16) -> float:
    """Bytes of activations per input pixel of one forward pass: the sum of every leaf module's output on a
    ``probe`` x ``probe`` input, doubled for the concatenations between them (an upper-bound estimate: the
    forward pass frees most of them before it ends)."""
    total = 0

    def hook(_m: nn.Module, _i: Any, out: Any) -> None:
        nonlocal total
        outs = out if isinstance(out, (tuple, list)) else [out]
        total += sum(t.numel() * t.element_size() for t in outs if torch.is_tensor(t))

    leaves = [m for m in net.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        p = next(net.parameters())
        with torch.inference_mode():
            out = net(torch.zeros(1, 3, probe, probe, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
    return 2.0 * (total + out.numel() * out.element_size()) / probe ** 2


@dataclass(frozen=True)
class MemoryPlan:
    """How much of the input one forward pass may take under a memory budget."""

    max_pixels: int
    tile: int
    pad: int

    @classmethod
    def for_net(cls, net: nn.Module, budget_gb: float, tile_pad: int = 64) -> MemoryPlan:
        max_pixels = int(budget_gb * 2 ** 30 / activation_bytes_per_pixel(net))
        side = int(math.isqrt(max(max_pixels, 1))) - 2 * tile_pad
        if side < 16:
            raise InputError(f'--max-memory {budget_gb} GB is too small for this network (a forward pass needs '
                             f'up to {activation_bytes_per_pixel(net) / 1024:.0f} KB per input pixel, '
                             f'{2 * tile_pad} px of tile context on each axis): raise it')
        return cls(max_pixels, side, tile_pad)

    def images_per_pass(self, h: int, w: int, batch_size: int) -> int:
        """Images of size h x w per forward pass (0: one image is too large and is tiled)."""
        return min(batch_size, self.max_pixels // (h * w))


@torch.inference_mode()
def output_scale(net: nn.Module) -> int:
    """The factor by which ``net`` enlarges an RGB input: its ``upscale`` attribute (DSNet), else measured on an
    8x8 probe (BasicSR's EDSR, RRDBNet, ... keep no such attribute)."""
    factor = getattr(net, 'upscale', None)
    if factor is None:
        p = next(net.parameters())
        with torch.no_grad():
            factor = net(torch.zeros(1, 3, 8, 8, device=p.device, dtype=p.dtype)).shape[-1] // 8
    return int(factor)


def _sr(net: nn.Module, lq: torch.Tensor) -> torch.Tensor:
    device = next(net.parameters()).device
    return net(lq.to(device)).float().clamp(0, 1).cpu()


@torch.inference_mode()
def tiled_sr(net: nn.Module, lq: torch.Tensor, tile: int, pad: int) -> torch.Tensor:
    """SR of one (1, 3, H, W) image in tiles of ``tile`` input pixels, each run with ``pad`` pixels of context
    on every side (cropped from the output). Equal to the whole-image pass (to float tolerance) when ``pad``
    covers the network's receptive field (DSNet configs and back-projection: tested with the default 64)."""
    _, _, h, w = lq.shape
    out: torch.Tensor | None = None
    scale = 0
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa, yb, xb = max(y0 - pad, 0), max(x0 - pad, 0), min(y1 + pad, h), min(x1 + pad, w)
            sr = _sr(net, lq[..., ya:yb, xa:xb])
            if out is None:
                scale = sr.shape[-1] // (xb - xa)
                out = torch.empty(1, sr.shape[1], h * scale, w * scale)
            out[..., y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                sr[..., (y0 - ya) * scale:(y1 - ya) * scale, (x0 - xa) * scale:(x1 - xa) * scale]
    assert out is not None
    return out


class _Writer:
    """Checked writes into a report; a fatal error (disk full, read-only file system) stops all later writes."""

    def __init__(self, report: HallucinationReport) -> None:
        self.report = report
        self.fatal: str | None = None

    def write(self, path: str, img: np.ndarray) -> bool:
        if self.fatal is not None:
            self.report.failed.append((path, f'not written: {self.fatal}'))
            return False
        try:
            write_image(path, img)
        except WriteError as err:
            self.report.failed.append((path, str(err)))
            logger.error('%s', err)
            if err.errno in FATAL_WRITE_ERRNOS:
                self.fatal = str(err)
            return False
        self.report.written.append(path)
        return True


def hallucinate_aligned(net: nn.Module, root: str, rels: list[str], out_dir: str, batch_size: int = 64,
                        report: HallucinationReport | None = None, memory: MemoryPlan | None = None,
                        plan: dict[str, str] | None = None) -> HallucinationReport:
    """Aligned mode (module docstring): images of the same size are batched together, as many per forward pass
    as ``memory`` allows; an image too large for one pass is super-resolved in tiles (:func:`tiled_sr`).
    Images are read batch by batch (memory stays bounded for any number of inputs)."""
    report = report or HallucinationReport()
    report.inputs += len(rels)
    memory = memory or MemoryPlan.for_net(net, DEFAULT_MAX_MEMORY_GB)
    plan = plan or plan_outputs(root, rels, out_dir)
    by_size: dict[tuple[int, int], list[str]] = defaultdict(list)
    for rel in rels:
        try:
            by_size[image_size(os.path.join(root, rel))].append(rel)
        except InputError as err:
            report.failed.append((rel, str(err)))
            logger.warning('skipped %s: %s', rel, err)
    writer = _Writer(report)
    bar = tqdm(total=sum(map(len, by_size.values())), desc='hallucinate', unit='face')
    for (h, w), items in by_size.items():
        per_pass = memory.images_per_pass(h, w, batch_size)
        if per_pass == 0:
            logger.info('%d image(s) of %dx%d exceed one forward pass of the memory budget: tiles of %d px',
                        len(items), w, h, memory.tile)
        for s in range(0, len(items), max(per_pass, 1)):
            chunk, faces = [], []
            for rel in items[s:s + max(per_pass, 1)]:
                try:
                    faces.append(_to_tensor(read_rgb(os.path.join(root, rel))))
                    chunk.append(rel)
                except InputError as err:
                    report.failed.append((rel, str(err)))
                    logger.warning('skipped %s: %s', rel, err)
            if not chunk:
                bar.update(len(items[s:s + max(per_pass, 1)]))
                continue
            lq = torch.stack(faces)
            out = _sr(net, lq) if per_pass else tiled_sr(net, lq, memory.tile, memory.pad)
            for rel, sr in zip(chunk, out):
                report.faces += writer.write(plan[rel], _to_bgr(sr))
            bar.update(len(items[s:s + max(per_pass, 1)]))
    bar.close()
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
                optimize: bool = True, max_memory_gb: float = DEFAULT_MAX_MEMORY_GB) -> HallucinationReport:
    """Hallucinate a file or folder of aligned LR faces (``mode='aligned'``) or of photos (``'photo'``).

    ``weights``: a generator checkpoint path or the name of a shipped model
    (:data:`fhgan_plugin.model_zoo.SHIPPED_MODELS`); None: the default shipped model. ``optimize``: run a
    DSNet through :func:`~fhgan_plugin.archs.dsnet_fast.optimize_dsnet` (same outputs to float tolerance,
    faster: see ``scripts/benchmark.py``). ``max_memory_gb``: activation memory one forward pass may use
    (aligned mode: larger inputs are tiled). Returns a :class:`HallucinationReport`; see the module docstring
    for what is written. Every argument and the output location are checked before any work.

    Raises:
        InputError: a bad argument, input or output location (nothing has been written).
    """
    if mode not in ('aligned', 'photo'):
        raise InputError(f"mode must be 'aligned' or 'photo', got {mode!r}")
    if batch_size < 1:
        raise InputError(f'batch size must be >= 1, got {batch_size}')
    if scale < 1:
        raise InputError(f'scale must be >= 1, got {scale}')
    if not 0.0 < conf_threshold < 1.0:
        raise InputError(f'detection threshold must be in (0, 1), got {conf_threshold}')
    if not max_memory_gb > 0:
        raise InputError(f'max memory must be > 0 GB, got {max_memory_gb}')
    root, rels = list_inputs(inputs)
    plan = plan_outputs(root, rels, output, mode)
    dev = torch.device('cuda' if device == 'auto' and torch.cuda.is_available() else
                       ('cpu' if device == 'auto' else device))
    path, shipped_arch = resolve_weights(weights)
    net = load_generator(path, arch if arch is not None else shipped_arch, device=dev)
    if mode == 'photo' and (factor := output_scale(net)) != 4:
        raise InputError(f'photo mode aligns faces to the ArcFace 112x112 framing of the x4 models; {weights!r} is a '
                         f'x{factor} model (trained in the x8 benchmark\'s framing): use aligned mode')
    memory = MemoryPlan.for_net(net, max_memory_gb)
    if optimize:
        net = fast_inference(net)
    os.makedirs(output, exist_ok=True)
    if mode == 'aligned':
        return hallucinate_aligned(net, root, rels, output, batch_size, memory=memory, plan=plan)
    if detector_root is None:
        shared = shared_root()
        detector_root = os.path.join(shared, 'models', 'facexlib') if shared else 'facexlib_weights'
    detector = FaceDetector(detector_root, device=str(dev))
    report = HallucinationReport(inputs=len(rels))
    writer = _Writer(report)
    for rel in tqdm(rels, desc='photos', unit='photo'):
        try:
            bgr = np.ascontiguousarray(read_rgb(os.path.join(root, rel))[..., ::-1])
            big, faces = hallucinate_photo(net, detector, bgr, scale, conf_threshold)
        except (InputError, cv2.error) as err:  # a bad photo is reported, never fatal
            report.failed.append((rel, str(err)))
            logger.warning('skipped %s: %s', rel, err)
            continue
        stem = os.path.splitext(plan[rel])[0]
        writer.write(stem + '.png', big)
        for k, face in enumerate(faces):
            report.faces += writer.write(f'{stem}_face{k}.png', face)
        if not faces:
            logger.warning('%s: no face found (the photo is still written, upscaled)', rel)
    return report


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f'must be > 0, got {text}')
        return value
    return parse


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog='fhgan-hallucinate', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='an image or a folder (recursive)')
    p.add_argument('-o', '--output', required=True, help='output folder (outside the input folder)')
    p.add_argument('--weights', default=None,
                   help=f'generator checkpoint (BasicSR net_g_*.pth) or a shipped model name {sorted(SHIPPED_MODELS)} '
                        f'(default: {DEFAULT_MODEL})')
    p.add_argument('--no-optimize', action='store_true', help='run the training module as is (no FastDSNet)')
    p.add_argument('--arch', default=None,
                   help="arch spec 'Type(key=value,...)' (default: the DSNet config that fits the weights)")
    p.add_argument('--mode', default='aligned', choices=['aligned', 'photo'])
    p.add_argument('--batch-size', type=_positive(int), default=64)
    p.add_argument('--max-memory', type=_positive(float), default=DEFAULT_MAX_MEMORY_GB, metavar='GB',
                   help='activation memory of one forward pass; larger inputs are tiled (default %(default)s)')
    p.add_argument('--device', default='auto')
    p.add_argument('--detector-root', default=None, help='folder of facexlib RetinaFace weights (photo mode)')
    p.add_argument('--scale', type=_positive(int), default=4)
    p.add_argument('--conf', type=float, default=0.5, help='face detection threshold in (0, 1) (photo mode)')
    add_debug_flag(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s: %(message)s')
    arch = None
    if args.arch:
        from fhgan_plugin.evaluation.methods import MethodError, parse_arch_spec
        try:
            arch = parse_arch_spec(args.arch)
        except MethodError as err:
            raise InputError(f'--arch: {err}') from None
    report = hallucinate(args.input, args.output, args.weights, args.mode, arch, args.batch_size, args.device,
                         args.detector_root, args.scale, args.conf, optimize=not args.no_optimize,
                         max_memory_gb=args.max_memory)
    summary = report.as_dict()
    logger.info('%d inputs: wrote %d files (%d faces) to %s; %d failed', summary['inputs'], summary['written'],
                summary['faces'], args.output, len(summary['failed']))
    for rel, why in report.failed:
        logger.error('  failed: %s (%s)', rel, why)
    return summary


def console() -> None:
    """Console-script entry point: exit 0 when everything was written, 1 when anything failed (the log names
    each), 2 on a user error (:mod:`fhgan_plugin.utils.cli`)."""
    sys.exit(run_cli(main, 'fhgan-hallucinate', status=lambda s: 1 if s['failed'] else 0))


if __name__ == '__main__':
    console()
