"""Methods compared by the evaluation suite: interpolation baselines, the HR faces, and SR networks.

A method spec (``--method`` of ``scripts/evaluate.py``) is one of

* ``bilinear`` / ``bicubic``: PIL upsampling of the uint8 LR face (the project's baselines);
* ``bicubic-opencv``: OpenCV's bicubic (a = -0.75, as PyTorch's), the "Bicubic" row of the ×8 face-SR papers;
* ``hr``: the HR faces themselves (the paper's "FR-HR images" row);
* ``bicubic(back_projection=K)`` / ``bilinear(back_projection=K)``: that baseline made consistent with its LR
  input by K back-projection steps (what back-projection alone does, without a network);
* a BasicSR test-options YAML file: ``network_g`` + ``path.pretrain_network_g`` (``param_key_g``), label =
  its ``name``;
* ``LABEL=ARCH@CHECKPOINT``: any arch of BasicSR's ``ARCH_REGISTRY`` with keyword arguments in
  parentheses, values in YAML, e.g. ``FH-GAN=DSNet(num_feat=32,num_block=4,num_layer=4,growth=16,
  num_bottleneck=32)@experiments/FHGAN_joint_x4_cpu/models/net_g_latest.pth``,
  ``MSRResNet=MSRResNet(upscale=4)@msrresnet.pth``. ``DSNet(config=cpu)`` selects a named DSNet config;
  ``flip_ensemble=true`` (any arch) averages the outputs for the face and its mirror image (test-time
  self-ensemble, 2x the time); ``back_projection=K`` (any arch) makes the output consistent with the LR
  input by K steps of iterative back-projection (:func:`fhgan_plugin.data.degradation.back_project`);
* the name of a shipped model (``fhgan_plugin.model_zoo``, e.g. ``fhgan-x4-cpu``), or ``LABEL=NAME``.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

import torch
import yaml
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from fhgan_plugin.archs.dsnet_fast import fast_inference
from fhgan_plugin.data.degradation import back_project
from fhgan_plugin.utils.checkpoint import CheckpointMismatchError, load_state_dict_checked, read_state_dict
from fhgan_plugin.utils.io import file_digest
from fhgan_plugin.utils.upsample import opencv_bicubic, pil_upsample

TEST_TIME_OPTIONS = ('flip_ensemble', 'back_projection')  # applied around any arch, not passed to it
BUILTIN = {'bilinear': 'FR-Bilinear', 'bicubic': 'FR-Bicubic', 'bicubic-opencv': 'Bicubic (OpenCV)',
           'hr': 'FR-HR images'}
SPEC_HELP = ("a method is one of: 'bilinear', 'bicubic', 'bicubic-opencv', 'hr', a BasicSR test-options .yml file, "
             "a shipped model name ([LABEL=]NAME), or 'LABEL=ARCH(key=value,...)@CHECKPOINT' with ARCH in BasicSR's "
             "ARCH_REGISTRY")
_SPEC = re.compile(r'^(?P<label>[^=@]+)=(?P<arch>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<kwargs>.*)\))?@(?P<ckpt>.+)$')


class MethodError(ValueError):
    """A method spec that cannot be resolved (the message lists the valid choices)."""


@dataclass
class Method:
    """One row of the tables: ``kind`` is ``interp`` (``mode`` bilinear/bicubic), ``hr`` or ``network``."""

    label: str
    kind: str
    mode: str | None = None
    network_opt: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    param_key: str | None = None
    net: nn.Module | None = None
    #: What super-resolves: ``net`` itself, or its optimised inference module (a DSNet's :class:`FastDSNet`).
    infer: nn.Module | None = field(default=None, repr=False, compare=False)
    _key: str | None = field(default=None, repr=False, compare=False)

    def cache_key(self) -> str:
        """What determines this method's outputs: its kind, arch options and checkpoint *content*."""
        if self._key is None:  # hashed once per Method (the checkpoint is read once)
            parts = [self.kind, str(self.mode), yaml.safe_dump(self.network_opt, sort_keys=True), str(self.param_key)]
            if self.checkpoint:
                parts.append(file_digest(self.checkpoint))
            self._key = hashlib.sha256('\n'.join(parts).encode()).hexdigest()[:16]
        return self._key

    def load(self, device: torch.device) -> None:
        """Build the network and load its checkpoint (network methods only)."""
        if self.kind != 'network' or self.net is not None:
            return
        opt = {k: v for k, v in self.network_opt.items() if k not in TEST_TIME_OPTIONS}
        self.net = build_arch(opt).eval().to(device)
        try:
            load_state_dict_checked(self.net, read_state_dict(self.checkpoint, self.param_key),
                                    source=self.checkpoint)
        except CheckpointMismatchError as err:
            raise CheckpointMismatchError(
                f'method {self.label!r}: the checkpoint is not a {self.network_opt["type"]} with options '
                f'{self.network_opt}; check the arch options of the spec.\n{err}') from None
        self.infer = fast_inference(self.net)  # DSNet: the same outputs to 1e-5, faster (archs/dsnet_fast.py)

    @torch.no_grad()
    def super_resolve(self, lq: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """(N, 3, h, w) LR in [0, 1] (uint8 values) -> (N, 3, H, W) in [0, 1] (the size of ``gt``), rounded to
        uint8 values."""
        if self.kind == 'hr':
            return gt
        if self.kind == 'interp':
            scale = gt.shape[-1] // lq.shape[-1]
            out = opencv_bicubic(lq, scale) if self.mode == 'bicubic-opencv' else pil_upsample(lq, scale, self.mode)
            if self.network_opt.get('back_projection'):
                out = (back_project(out, lq, int(self.network_opt['back_projection'])) * 255).round() / 255
            return out
        if self.net is None:
            raise RuntimeError(f'method {self.label!r}: call load() first')
        device = next(self.net.parameters()).device
        net = self.infer if self.infer is not None else self.net
        lq = lq.to(device)
        out = net(lq).float()
        if self.network_opt.get('flip_ensemble'):
            out = 0.5 * (out + net(lq.flip(-1)).float().flip(-1))
        if self.network_opt.get('back_projection'):
            out = back_project(out, lq.float(), int(self.network_opt['back_projection']))
        out = out.clamp(0, 1).cpu()
        if out.shape[-2:] != gt.shape[-2:]:
            raise ValueError(f'method {self.label!r} returned {tuple(out.shape[-2:])} for a '
                             f'{tuple(lq.shape[-2:])} input, expected {tuple(gt.shape[-2:])}: wrong upscale?')
        return (out * 255).round() / 255


def registered_arch(kind: str, context: str = '') -> type:
    """The class of ``kind`` in BasicSR's ``ARCH_REGISTRY`` (the one place an unknown arch is reported).

    Raises:
        MethodError: listing the registered archs.
    """
    if kind not in ARCH_REGISTRY:
        raise MethodError(f"{context}arch {kind!r} is not in BasicSR's ARCH_REGISTRY; registered archs: "
                          f'{sorted(name for name, _ in ARCH_REGISTRY)}')
    return ARCH_REGISTRY.get(kind)


def build_arch(opt: dict[str, Any]) -> nn.Module:
    """An arch from ``{type: ..., **kwargs}``; ``config`` selects a named DSNet configuration."""
    opt = dict(opt)
    kind = opt.pop('type')
    cls = registered_arch(kind)
    config = opt.pop('config', None)
    if config is not None:
        if not hasattr(cls, 'from_config'):
            raise MethodError(f'arch {kind} has no named configs (config={config!r})')
        return cls.from_config(config, **opt)
    try:
        return cls(**opt)
    except TypeError as err:  # a missing or unknown keyword: name the arch and its options
        raise MethodError(f'arch {kind} with options {opt}: {err}') from None


def _parse_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    out = {}
    for item in filter(None, (s.strip() for s in text.split(','))):
        if '=' not in item:
            raise MethodError(f'arch argument {item!r} is not key=value')
        key, value = item.split('=', 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def parse_arch_spec(spec: str) -> dict[str, Any]:
    """``'Type(key=value,...)'`` (values in YAML) -> ``{'type': 'Type', ...}``; the type must be registered."""
    m = re.match(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$', spec)
    if m is None:
        raise MethodError(f"arch spec {spec!r} is not 'Type' or 'Type(key=value,...)'")
    registered_arch(m[1])
    return {'type': m[1], **_parse_kwargs(m[2])}


def _from_test_options(path: str) -> Method:
    with open(path) as f:
        opt = yaml.safe_load(f)
    if not isinstance(opt, dict) or 'network_g' not in opt:
        raise MethodError(f'{path}: a method options file needs network_g and path.pretrain_network_g')
    ckpt = (opt.get('path') or {}).get('pretrain_network_g')
    if not ckpt:
        raise MethodError(f'{path}: path.pretrain_network_g is not set')
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f'{path}: checkpoint {ckpt!r} not found')
    return Method(label=opt.get('name', os.path.splitext(os.path.basename(path))[0]), kind='network',
                  network_opt=dict(opt['network_g']), checkpoint=ckpt,
                  param_key=(opt.get('path') or {}).get('param_key_g'))


def parse_method(spec: str) -> Method:
    """Resolve a method spec (module docstring) or raise :class:`MethodError` listing the valid forms."""
    spec = spec.strip()
    if spec.lower() in BUILTIN:
        kind = 'hr' if spec.lower() == 'hr' else 'interp'
        return Method(label=BUILTIN[spec.lower()], kind=kind, mode=None if kind == 'hr' else spec.lower())
    bp = re.match(r'^(bilinear|bicubic)\(back_projection=(\d+)\)$', spec, re.IGNORECASE)
    if bp:  # an interpolation baseline made LR-consistent: what back-projection alone does, without a network
        mode, k = bp[1].lower(), int(bp[2])
        return Method(label=f'{BUILTIN[mode]} + BP{k}', kind='interp', mode=mode, network_opt={'back_projection': k})
    from fhgan_plugin.model_zoo import SHIPPED_MODELS, resolve_weights
    label, _, name = spec.rpartition('=')
    if name in SHIPPED_MODELS and '@' not in spec:
        path, arch = resolve_weights(name)
        return Method(label=label.strip() or name, kind='network', network_opt=arch, checkpoint=path)
    if spec.endswith(('.yml', '.yaml')):
        if not os.path.isfile(spec):
            raise MethodError(f'options file {spec!r} not found; {SPEC_HELP}')
        return _from_test_options(spec)
    m = _SPEC.match(spec)
    if m is None:
        raise MethodError(f'unknown method {spec!r}; {SPEC_HELP}. Built-in methods: {sorted(BUILTIN)}; '
                          f'registered archs: {sorted(name for name, _ in ARCH_REGISTRY)}')
    arch = m['arch']
    registered_arch(arch, f'method {m["label"]!r}: ')
    ckpt = m['ckpt'].strip()
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f'method {m["label"]!r}: checkpoint {ckpt!r} not found')
    return Method(label=m['label'].strip(), kind='network', network_opt={'type': arch, **_parse_kwargs(m['kwargs'])},
                  checkpoint=ckpt)
