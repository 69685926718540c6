"""Perceptual loss (FH-GAN eq. 5): MSE of the last VGG conv features (before its ReLU), offline weights."""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from fhgan_plugin.losses.reduction import check_reduction, reduce
from fhgan_plugin.registry import register_loss
from fhgan_plugin.utils.checkpoint import load_state_dict_checked, read_state_dict
from fhgan_plugin.utils.paths import shared_root

#: Index (in torchvision's ``vgg*.features``) of the last conv layer: conv5_3 (VGG16), conv5_4 (VGG19).
LAST_CONV = {'vgg16': 28, 'vgg19': 34}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_vgg_path(vgg_type: str) -> str | None:
    """``$FHGAN_VGG16`` / ``$FHGAN_VGG19``, else the shared VGG16 (``../shared/models``) for vgg16."""
    env = os.environ.get(f'FHGAN_{vgg_type.upper()}')
    if env:
        return env
    root = shared_root()
    if vgg_type == 'vgg16' and root:
        return os.path.join(root, 'models', 'vgg16_imagenet_features_fp16.pth')
    return None


def build_vgg_features(vgg_type: str, weights_path: str | None) -> nn.Sequential:
    """torchvision VGG ``features`` truncated after the last conv (pre-ReLU), weights from a file."""
    from torchvision.models import vgg16, vgg19
    if vgg_type not in LAST_CONV:
        raise ValueError(f"vgg_type must be 'vgg16' or 'vgg19', got {vgg_type!r}")
    path = weights_path or default_vgg_path(vgg_type)
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(
            f'{vgg_type} weights not found ({path!r}). Nothing is downloaded at run time: pass weights_path, or '
            f'set FHGAN_{vgg_type.upper()} to a file with torchvision key names (features.N.weight/bias), e.g. '
            "torchvision's vgg19-dcbb9e9d.pth; the ImageNet VGG16 of ../shared/models/"
            'vgg16_imagenet_features_fp16.pth is the offline substitute (vgg_type: vgg16).')
    full = (vgg16 if vgg_type == 'vgg16' else vgg19)(weights=None).features[:LAST_CONV[vgg_type] + 1]
    state = read_state_dict(path)
    state = {k[len('features.'):]: v for k, v in state.items() if k.startswith('features.')}
    load_state_dict_checked(full, state, source=path, strict=False)
    missing = [k for k in full.state_dict() if k not in state]
    if missing:
        raise RuntimeError(f'{path} lacks VGG features weights: {missing}')
    return full


@register_loss
class FHPerceptualLoss(nn.Module):
    """MSE between VGG features (last conv layer, before ReLU) of SR and HR, ImageNet-normalised input.

    Unlike BasicSR's ``PerceptualLoss`` it never downloads and never reads a cwd-relative file: the
    weights come from ``weights_path`` (or ``$FHGAN_VGG16`` / ``$FHGAN_VGG19``, or ``../shared``), and a
    missing file is an error that says what to provide. The paper uses VGG19 (conv5_4); offline, VGG16
    (conv5_3) is the substitute.

    Args:
        vgg_type: 'vgg19' or 'vgg16'.
        weights_path: torchvision-style VGG weights (fp16 files are cast to float32).
        loss_weight: λ2 of eq. 10.
        reduction: 'mean' | 'sum' | 'none' over the batch (each sample's MSE is a mean over C·H·W).

    Shapes:
        sr, hr (N, 3, H, W) RGB in [0, 1] -> scalar (or (N,)).
    """

    def __init__(self, vgg_type: str = 'vgg16', weights_path: str | None = None, loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__()
        self.vgg = build_vgg_features(vgg_type, weights_path).eval()
        for p in self.vgg.parameters():
            p.requires_grad_(False)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)

    def train(self, mode: bool = True) -> FHPerceptualLoss:
        super().train(mode)
        self.vgg.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last-conv features of (N, 3, H, W) [0, 1] RGB."""
        return self.vgg((x - self.mean) / self.std)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        f_sr = self.features(sr)
        with torch.no_grad():
            f_hr = self.features(hr)
        per_sample = F.mse_loss(f_sr, f_hr, reduction='none').flatten(1).mean(1)
        return self.loss_weight * reduce(per_sample, self.reduction)
