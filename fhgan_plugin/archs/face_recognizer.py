"""One small interface for every face-recognition network: aligned 112x112 RGB in [0, 1] -> embedding.

:class:`FaceEmbedder` wraps a backbone with its own input framing and normalisation, so the identity
loss, the verification metric and the FR training stage do not care which network it is.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Any

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

    Shapes:
        x (N, 3, 112, 112) RGB in [0, 1] -> (N, D) embedding (not normalised; see :meth:`embed`).
    """

    def __init__(self, backbone: dict[str, Any], pretrain_path: str | None = None, param_key: str | None = None,
                 crop_cols: tuple[int, int] | None = None, mean: float | None = None, std: float | None = None,
                 flip_concat: bool = False) -> None:
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

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Crop and normalise (N, 3, 112, 112) [0, 1] faces for the backbone."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'FaceEmbedder expects (N, 3, H, W) RGB in [0, 1], got {tuple(x.shape)}')
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
