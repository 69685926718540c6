"""LPIPS (the ``lpips`` package, VGG variant) with the VGG16 features loaded from a local file.

``lpips.LPIPS(net='vgg')`` downloads torchvision's ImageNet VGG16; offline, build it with random VGG
weights (``pnet_rand=True``) and load the features from a file with torchvision key names
(``features.N.weight`` / ``.bias``, e.g. ``../shared/models/vgg16_imagenet_features_fp16.pth``). The
learned linear layers ship inside the ``lpips`` package (``weights/v0.1/vgg.pth``).
"""
from __future__ import annotations

import torch
from torch import nn

from fhgan_plugin.utils.checkpoint import read_state_dict

#: torchvision ``vgg16.features`` indices held by each LPIPS slice (lpips.pretrained_networks.vgg16).
_SLICES = ((1, range(0, 4)), (2, range(4, 9)), (3, range(9, 16)), (4, range(16, 23)), (5, range(23, 30)))


def build_lpips(vgg_weights: str) -> nn.Module:
    """LPIPS-VGG in eval mode. Input: two (N, 3, H, W) tensors in [0, 1]; output: (N,) distances.

    Raises:
        ImportError: naming the package to install.
        FileNotFoundError: naming the missing weights file.
    """
    try:
        import lpips
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('LPIPS needs the lpips package: pip install lpips==0.1.4 (or pip install -e ".[eval]")') \
            from err
    feats = read_state_dict(vgg_weights)
    model = lpips.LPIPS(net='vgg', pnet_rand=True, verbose=False)
    net = model.net
    state = {}
    for slice_idx, idxs in _SLICES:
        for i in idxs:
            for p in ('weight', 'bias'):
                key = f'features.{i}.{p}'
                if key in feats:
                    state[f'slice{slice_idx}.{i}.{p}'] = feats[key]
    missing = [k for k in net.state_dict() if k not in state]
    if missing:
        raise KeyError(f'{vgg_weights}: not a torchvision VGG16 features file (missing {missing[:4]} …)')
    net.load_state_dict(state)
    return _LPIPS01(model.eval())


class _LPIPS01(nn.Module):
    """Wraps ``lpips.LPIPS`` to take [0, 1] images and return (N,) distances; runs in channels-last layout
    (oneDNN's fast convolution layout on CPU; the same distances to float rounding)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last)
        for p in self.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
        return self.model(x, y, normalize=True).flatten()
