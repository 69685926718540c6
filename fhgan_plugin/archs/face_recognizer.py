"""One small interface for every face-recognition network: aligned 112x112 RGB in [0, 1] -> embedding.

:class:`FaceEmbedder` wraps a backbone with its own input framing and normalisation, so the identity
loss, the verification metric and the FR training stage do not care which network it is.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from fhgan_plugin.registry import register_arch
from fhgan_plugin.utils.checkpoint import load_state_dict_checked, read_state_dict

#: Input framing of known backbones: (column crop of the 112x112 face or None, mean, std) on [0, 1] inputs.
PREPROCESS: dict[str, dict[str, Any]] = {
    'FHIResNet': {'crop_cols': None, 'mean': 0.5, 'std': 0.5},
    'FHMobileFaceNet': {'crop_cols': (8, 104), 'mean': 127.5 / 255.0, 'std': 128.0 / 255.0},
}


@register_arch
class FaceEmbedder(nn.Module):
    """A face-recognition backbone behind the project's FR interface.

    Args:
        backbone: BasicSR arch option dict of the backbone, e.g. ``{type: FHIResNet, depth: 34}`` or
            ``{type: FHMobileFaceNet}``.
        pretrain_path: Optional checkpoint of the backbone (insightface ``backbone.pth``, the shared
            MobileFaceNet, a BasicSR ``net_*.pth``, or a saved FaceEmbedder such as a stage-1 ``net_fr_*.pth``:
            its ``backbone.`` key prefix is stripped).
        param_key: Key of the state dict inside the checkpoint (None: auto).
        crop_cols / mean / std: Override the backbone's framing and normalisation (:data:`PREPROCESS`).
        flip_concat: Concatenate the embeddings of the face and its mirror image (evaluation practice).
        input_template: Faces framed otherwise than ArcFace's 112x112 (e.g. the ×8 benchmark's 128x128 crops):
            a JSON file ``{"size": S, "landmarks": [[x, y] * 5]}`` (``template128.json`` of
            ``scripts/prepare_data.py --sets x8_benchmark``) or ``[S, [[x, y] * 5]]``. Inputs are then (N, 3, S, S)
            and are warped by the one similarity transform from those landmarks to the ArcFace template
            (bilinear, differentiable) before the backbone. None: inputs are ArcFace-aligned 112x112.

    Shapes:
        x (N, 3, 112, 112) RGB in [0, 1] (or (N, 3, S, S) with ``input_template``) -> (N, D) embedding (not
        normalised; see :meth:`embed`).
    """

    def __init__(self, backbone: dict[str, Any], pretrain_path: str | None = None, param_key: str | None = None,
                 crop_cols: tuple[int, int] | None = None, mean: float | None = None, std: float | None = None,
                 flip_concat: bool = False, input_template: str | list | None = None) -> None:
        super().__init__()
        opt = deepcopy(dict(backbone))
        kind = opt.pop('type')
        self.backbone = ARCH_REGISTRY.get(kind)(**opt)
        if pretrain_path:
            state = read_state_dict(pretrain_path, param_key)
            if state and all(k.startswith('backbone.') for k in state):  # a saved FaceEmbedder (net_fr_*.pth)
                state = {k[len('backbone.'):]: v for k, v in state.items()}
            load_state_dict_checked(self.backbone, state, source=pretrain_path)
        pre = PREPROCESS.get(kind, {'crop_cols': None, 'mean': 0.5, 'std': 0.5})
        self.crop_cols = tuple(crop_cols) if crop_cols is not None else pre['crop_cols']
        self.mean = float(mean if mean is not None else pre['mean'])
        self.std = float(std if std is not None else pre['std'])
        self.flip_concat = flip_concat
        self.input_size, warp = 112, None
        if input_template is not None:
            self.input_size, lms = read_input_template(input_template)
            from fhgan_plugin.data.alignment import arcface_template, estimate_similarity
            warp = torch.from_numpy(estimate_similarity(lms, arcface_template(112))).float()
        self.register_buffer('input_warp', warp, persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Warp (with ``input_template``), crop and normalise (N, 3, H, W) [0, 1] faces for the backbone."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'FaceEmbedder expects (N, 3, H, W) RGB in [0, 1], got {tuple(x.shape)}')
        if self.input_warp is not None:
            if x.shape[-2:] != (self.input_size, self.input_size):
                raise ValueError(f'FaceEmbedder: input_template is for {self.input_size}x{self.input_size} faces, got '
                                 f'{tuple(x.shape[-2:])}')
            from fhgan_plugin.data.alignment import warp_affine_batch
            x = warp_affine_batch(x, self.input_warp.expand(len(x), 2, 3), 112)
        if self.crop_cols is not None:
            x = x[..., self.crop_cols[0]:self.crop_cols[1]]
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(x)
        if self.flip_concat:  # the face and its mirror image in one batch (one pass through the backbone)
            emb, emb_flip = self.backbone(torch.cat([x, x.flip(-1)])).chunk(2)
            return torch.cat([emb, emb_flip], 1)
        return self.backbone(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised embedding."""
        return nn.functional.normalize(self(x), dim=1)


def read_input_template(spec: str | list) -> tuple[int, np.ndarray]:
    """``(size, (5, 2) landmarks)`` of FaceEmbedder's ``input_template`` (a JSON path or ``[size, landmarks]``).

    Raises:
        FileNotFoundError / ValueError: naming the option and what it must be.
    """
    import json
    import os
    if isinstance(spec, str):
        if not os.path.isfile(spec):
            raise FileNotFoundError(f'FaceEmbedder input_template: {spec} not found (for the x8 framing, python '
                                    'scripts/prepare_data.py --sets x8_benchmark writes '
                                    'datasets/face_sr_x8/template128.json)')
        with open(spec) as f:
            d = json.load(f)
        size, lms = d.get('size'), d.get('landmarks')
    else:
        size, lms = (spec[0], spec[1]) if len(spec) == 2 else (None, None)
    arr = np.asarray(lms, dtype=np.float64) if lms is not None else None
    if not isinstance(size, int) or size < 16 or arr is None or arr.shape != (5, 2):
        raise ValueError(f'FaceEmbedder input_template must give an integer size >= 16 and 5 [x, y] landmarks, got '
                         f'{spec!r}')
    return size, arr


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """An eval-mode copy of ``net`` with every BatchNorm2d that directly follows a Conv2d folded into it.

    Folded pairs: consecutive (Conv2d, BatchNorm2d) children of an ``nn.Sequential`` and modules holding a ``conv``
    and a ``bn`` applied in that order (MobileFaceNet's ``ConvBlock``). The arithmetic is PyTorch's own
    (``torch.nn.utils.fusion.fuse_conv_bn_eval``); outputs equal the original's to float rounding, for inference
    only (the copy has no running statistics to update). Evaluation uses it for the FR network.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    net = deepcopy(net).eval()
    for module in net.modules():
        if isinstance(module, nn.Sequential):
            children = list(module)
            for i in range(len(children) - 1):
                a, b = children[i], children[i + 1]
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    module[i], module[i + 1] = fuse_conv_bn_eval(a, b), nn.Identity()
                    children[i + 1] = module[i + 1]
        elif isinstance(getattr(module, 'conv', None), nn.Conv2d) and isinstance(getattr(module, 'bn', None),
                                                                                  nn.BatchNorm2d):
            module.conv, module.bn = fuse_conv_bn_eval(module.conv, module.bn), nn.Identity()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
