"""Realistic low-resolution faces: a seeded capture pipeline built on BasicSR's degradation functions.

A face photographed by a surveillance camera is small at capture, blurred by optics and motion, noisy and
JPEG-compressed, and then cropped and resized to the recognition (or SR) network's input. :class:`RealDegradation`
models exactly that, in this order, from an aligned HR face:

1. **capture size** (probability ``size_prob``): the face side at capture, ``capture_size`` pixels (uniform
   integer), reached by a downscale drawn from ``resize_modes``; otherwise the face is captured at the model's input
   size by the canonical bilinear-antialias downscale;
2. **blur** (``blur_prob``): one kernel of BasicSR's mixed-kernel family (``kernel_list`` / ``kernel_prob``:
   isotropic / anisotropic Gaussian, generalized Gaussian, plateau; :mod:`basicsr.data.degradations`), σ in
   ``blur_sigma`` *capture* pixels, applied with :func:`basicsr.utils.img_process_util.filter2D`;
3. **noise** (``noise_prob``): Gaussian noise of σ in ``noise_sigma`` grey levels, or with probability
   ``poisson_prob`` Poisson noise of scale ``poisson_scale`` (BasicSR's ``generate_*_noise_pt``), grey (the same
   on all channels) with probability ``gray_noise_prob``; then rounded to uint8;
4. **JPEG** (``jpeg_prob``): quality uniform in ``jpeg_quality`` (BasicSR's ``add_jpg_compression``, OpenCV);
5. **crop resize** to the model's input: bicubic up from a smaller capture, bilinear-antialias down from a larger one;
   rounded to uint8.

Every random choice is drawn from ``numpy.random.default_rng(seed)`` (noise from a torch generator state seeded by
the same number, restored afterwards), so one ``(face, seed)`` always gives the same bytes. With every probability 0
the result is the canonical degradation (:func:`~fhgan_plugin.data.degradation.canonical_degradation`) bit for bit.
A range ``[a, a]`` fixes a value, which is how the evaluation's probe conditions are written
(:mod:`fhgan_plugin.evaluation.conditions`).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fhgan_plugin.data.degradation import _to_uint8_grid

#: BasicSR's kernel families (``basicsr.data.degradations``), by the names Real-ESRGAN's options use.
KERNELS = ('iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso')
RESIZE_MODES = ('area', 'bilinear', 'bicubic')
MAX_KERNEL = 21


def _range(name: str, value: Any, low: float, high: float, integer: bool = False) -> tuple[float, float]:
    """A checked ``[a, b]`` option: two numbers with low <= a <= b <= high, else a ValueError naming it."""
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if ok:
        a, b = value
        ok = low <= a <= b <= high and (not integer or (float(a).is_integer() and float(b).is_integer()))
    if not ok:
        kind = 'integers' if integer else 'numbers'
        raise ValueError(f'RealDegradation: {name} must be [low, high], {kind} within [{low}, {high}] with '
                         f'low <= high; got {value!r}')
    return (int(a), int(b)) if integer else (float(a), float(b))


def _prob(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f'RealDegradation: {name} must be a probability within [0, 1]; got {value!r}')
    return float(value)


@dataclass(frozen=True)
class RealDegradation:
    """Seeded realistic LR faces (see the module docstring for the pipeline).

    Args:
        clean_prob: Probability that the face skips every step below (the canonical LR: keeps the clean domain).
        size_prob: Probability that the face is captured at a size drawn from ``capture_size``.
        capture_size: [min, max] face side at capture in pixels (integers, 4-512).
        resize_modes: Downscale kernels to the capture size, one drawn uniformly ('area', 'bilinear', 'bicubic';
            both of the latter antialiased).
        blur_prob: Probability of a blur.
        blur_sigma: [min, max] kernel σ in capture pixels (0.1-10); anisotropic kernels draw both axes from it.
        kernel_list / kernel_prob: Kernel families (:data:`KERNELS`) and their probabilities (normalised).
        betag_range / betap_range: Shape β of the generalized-Gaussian / plateau kernels (BasicSR's meaning).
        noise_prob: Probability of noise.
        noise_sigma: [min, max] Gaussian σ in grey levels (0-100).
        poisson_prob: Among noisy faces, the probability that the noise is Poisson instead of Gaussian.
        poisson_scale: [min, max] Poisson noise scale (0-10).
        gray_noise_prob: Probability that the noise is the same on all channels.
        jpeg_prob: Probability of JPEG compression.
        jpeg_quality: [min, max] JPEG quality (integers, 1-100).
    """

    clean_prob: float = 0.0
    size_prob: float = 0.0
    capture_size: tuple[int, int] = (14, 40)
    resize_modes: tuple[str, ...] = RESIZE_MODES
    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.2, 2.0)
    kernel_list: tuple[str, ...] = KERNELS
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    noise_prob: float = 0.0
    noise_sigma: tuple[float, float] = (1.0, 15.0)
    poisson_prob: float = 0.0
    poisson_scale: tuple[float, float] = (0.05, 2.0)
    gray_noise_prob: float = 0.0
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (30, 95)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ('clean_prob', 'size_prob', 'blur_prob', 'noise_prob', 'poisson_prob', 'gray_noise_prob',
                     'jpeg_prob'):
            set_(self, name, _prob(name, getattr(self, name)))
        set_(self, 'capture_size', _range('capture_size', self.capture_size, 4, 512, integer=True))
        set_(self, 'blur_sigma', _range('blur_sigma', self.blur_sigma, 0.1, 10))
        set_(self, 'betag_range', _range('betag_range', self.betag_range, 0.1, 16))
        set_(self, 'betap_range', _range('betap_range', self.betap_range, 0.1, 16))
        set_(self, 'noise_sigma', _range('noise_sigma', self.noise_sigma, 0, 100))
        set_(self, 'poisson_scale', _range('poisson_scale', self.poisson_scale, 0, 10))
        set_(self, 'jpeg_quality', _range('jpeg_quality', self.jpeg_quality, 1, 100, integer=True))
        modes = tuple(self.resize_modes) if isinstance(self.resize_modes, (list, tuple)) else (self.resize_modes,)
        if not modes or any(m not in RESIZE_MODES for m in modes):
            raise ValueError(f'RealDegradation: resize_modes must be a non-empty list of {list(RESIZE_MODES)}; '
                             f'got {self.resize_modes!r}')
        set_(self, 'resize_modes', modes)
        kernels = tuple(self.kernel_list) if isinstance(self.kernel_list, (list, tuple)) else (self.kernel_list,)
        if not kernels or any(k not in KERNELS for k in kernels):
            raise ValueError(f'RealDegradation: kernel_list must be a non-empty list of {list(KERNELS)}; '
                             f'got {self.kernel_list!r}')
        probs = tuple(self.kernel_prob) if isinstance(self.kernel_prob, (list, tuple)) else (self.kernel_prob,)
        if len(probs) != len(kernels) or any(not isinstance(p, (int, float)) or p < 0 for p in probs) \
                or sum(probs) <= 0:
            raise ValueError(f'RealDegradation: kernel_prob must be {len(kernels)} non-negative numbers (one per '
                             f'kernel_list entry) with a positive sum; got {self.kernel_prob!r}')
        set_(self, 'kernel_list', kernels)
        set_(self, 'kernel_prob', tuple(float(p) for p in probs))

    @classmethod
    def from_options(cls, opt: dict[str, Any], who: str = 'degradation') -> RealDegradation:
        """Build from a YAML dict: ``preset`` (a :data:`PRESETS` name) and/or any field above, overriding it.

        Raises:
            ValueError: naming ``who`` and an unknown key or preset (with the valid ones), or a bad value.
        """
        opt = dict(opt)
        preset = opt.pop('preset', None)
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(opt) - set(valid))
        if unknown:
            raise ValueError(f'{who}: unknown option(s) {unknown}; valid: preset, {", ".join(valid)}')
        if preset is not None and preset not in PRESETS:
            raise ValueError(f'{who}: preset {preset!r} is not one of {sorted(PRESETS)}')
        try:
            return cls(**{**(PRESETS[preset] if preset else {}), **opt})
        except ValueError as err:
            raise ValueError(f'{who}: {err}') from None

    def options(self) -> dict[str, Any]:
        """The fields as plain YAML / JSON values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def sample(self, seed: int, out_size: int) -> dict[str, Any]:
        """The random choices for one face (a JSON-able dict; :meth:`apply` executes them)."""
        rng = np.random.default_rng(seed)
        p: dict[str, Any] = {'capture': out_size, 'resize': 'bilinear', 'kernel': None, 'noise': None, 'jpeg': None}
        if rng.random() < self.clean_prob:
            return p
        if rng.random() < self.size_prob:
            p['capture'] = int(rng.integers(self.capture_size[0], self.capture_size[1] + 1))
            p['resize'] = str(self.resize_modes[rng.integers(len(self.resize_modes))])
        if rng.random() < self.blur_prob:
            probs = np.asarray(self.kernel_prob) / sum(self.kernel_prob)
            kind = str(self.kernel_list[rng.choice(len(self.kernel_list), p=probs)])
            sx = float(rng.uniform(*self.blur_sigma))
            sy = float(rng.uniform(*self.blur_sigma)) if 'aniso' in kind else sx
            theta = float(rng.uniform(-math.pi, math.pi)) if 'aniso' in kind else 0.0
            beta = float(rng.uniform(*(self.betag_range if kind.startswith('generalized') else self.betap_range)))
            p['kernel'] = {'type': kind, 'sigma_x': sx, 'sigma_y': sy, 'theta': theta, 'beta': beta}
        if rng.random() < self.noise_prob:
            gray = bool(rng.random() < self.gray_noise_prob)
            if rng.random() < self.poisson_prob:
                p['noise'] = {'type': 'poisson', 'scale': float(rng.uniform(*self.poisson_scale)), 'gray': gray}
            else:
                p['noise'] = {'type': 'gaussian', 'sigma': float(rng.uniform(*self.noise_sigma)), 'gray': gray}
            p['noise']['seed'] = int(rng.integers(2 ** 62))
        if rng.random() < self.jpeg_prob:
            p['jpeg'] = int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
        return p

    def __call__(self, hr: torch.Tensor, out_size: int, seed: int) -> torch.Tensor:
        """LR face of side ``out_size`` from one (3, H, W) HR face in [0, 1], on the uint8 grid."""
        return apply(hr, out_size, self.sample(seed, out_size))


def blur_kernel(k: dict[str, Any]) -> np.ndarray:
    """The (K, K) kernel (sums to 1) of one :meth:`RealDegradation.sample` blur, by BasicSR's kernel functions;
    K = 2·ceil(3σ) + 1 (σ the larger axis), at least 3 and at most 21."""
    from basicsr.data.degradations import bivariate_Gaussian, bivariate_generalized_Gaussian, bivariate_plateau
    size = int(min(MAX_KERNEL, max(3, 2 * math.ceil(3 * max(k['sigma_x'], k['sigma_y'])) + 1)))
    iso = not k['type'].endswith('aniso')
    if k['type'] in ('iso', 'aniso'):
        ker = bivariate_Gaussian(size, k['sigma_x'], k['sigma_y'], k['theta'], isotropic=iso)
    elif k['type'].startswith('generalized'):
        ker = bivariate_generalized_Gaussian(size, k['sigma_x'], k['sigma_y'], k['theta'], k['beta'], isotropic=iso)
    else:
        ker = bivariate_plateau(size, k['sigma_x'], k['sigma_y'], k['theta'], k['beta'], isotropic=iso)
    return np.asarray(ker / ker.sum(), dtype=np.float32)


def _resize(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    if mode == 'area':
        return F.interpolate(x, size=(size, size), mode='area')
    return F.interpolate(x, size=(size, size), mode=mode, align_corners=False, antialias=True)


def apply(hr: torch.Tensor, out_size: int, p: dict[str, Any]) -> torch.Tensor:
    """Execute one sampled degradation ``p`` on a (3, H, W) HR face in [0, 1]: (3, out_size, out_size) uint8 grid."""
    from basicsr.data.degradations import generate_gaussian_noise_pt, generate_poisson_noise_pt
    from basicsr.utils.img_process_util import filter2D
    if hr.dim() != 3 or hr.shape[0] != 3:
        raise ValueError(f'RealDegradation expects one (3, H, W) face, got {tuple(hr.shape)}')
    x = hr.float()[None]
    cap = p['capture']
    x = _to_uint8_grid(_resize(x, cap, p['resize']))  # at cap == out_size: the canonical degradation
    if p['kernel']:
        ker = torch.from_numpy(blur_kernel(p['kernel']))
        half = min(ker.shape[-1] // 2, (cap - 1) // 2)  # reflect padding needs pad < side
        if half < ker.shape[-1] // 2:
            c = ker.shape[-1] // 2
            ker = ker[c - half:c + half + 1, c - half:c + half + 1]
            ker = ker / ker.sum()
        x = _to_uint8_grid(filter2D(x, ker[None]).clamp(0, 1))
    if p['noise']:
        n = p['noise']
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(n['seed'])
            noise = generate_gaussian_noise_pt(x, n['sigma'], int(n['gray'])) if n['type'] == 'gaussian' else \
                generate_poisson_noise_pt(x, n['scale'], int(n['gray']))
        x = _to_uint8_grid((x + noise).clamp(0, 1))
    if p['jpeg']:
        x = jpeg(x, p['jpeg'])
    if cap < out_size:
        x = F.interpolate(x, size=(out_size, out_size), mode='bicubic', align_corners=False)
    elif cap > out_size:
        x = _resize(x, out_size, 'bilinear')
    return _to_uint8_grid(x.clamp(0, 1))[0]


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of a (1, 3, H, W) RGB batch on the uint8 grid at ``quality``: what BasicSR's
    ``add_jpg_compression`` computes (the same OpenCV codec and bytes; a test checks it), fed uint8 directly, as
    OpenCV wants for JPEG (BasicSR's float input makes OpenCV warn on every new process)."""
    import cv2
    bgr = (x[0].permute(1, 2, 0).flip(-1) * 255).round().to(torch.uint8).numpy()
    ok, enc = cv2.imencode('.jpg', np.ascontiguousarray(bgr), [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError(f'OpenCV could not JPEG-encode a {bgr.shape} image at quality {quality}')
    out = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1]
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)[None].float() / 255.0


def image_seed(seed: int, name: str) -> int:
    """A stable per-image seed (the same on every machine and Python): sha256 of ``seed`` and the image name."""
    return int.from_bytes(hashlib.sha256(f'{seed}\0{name}'.encode()).digest()[:8], 'little') >> 2


#: Named settings. ``surveillance`` (for a 28-px input): 20 % of faces clean; the others captured at 14-40 px (70 %),
#: blurred by a mixed kernel of σ 0.2-2.5 capture px (70 %), with Gaussian σ 1-15 or Poisson noise (60 %) and JPEG
#: quality 30-95 (70 %).
PRESETS: dict[str, dict[str, Any]] = {
    'surveillance': dict(clean_prob=0.2, size_prob=0.7, capture_size=(14, 40), blur_prob=0.7, blur_sigma=(0.2, 2.5),
                         noise_prob=0.6, noise_sigma=(1.0, 15.0), poisson_prob=0.3, poisson_scale=(0.05, 2.0),
                         gray_noise_prob=0.4, jpeg_prob=0.7, jpeg_quality=(30, 95)),
}
