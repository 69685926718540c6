"""IR-ResNet face-recognition backbone (ArcFace), parameter names as insightface's ``arcface_torch``.

A ``backbone.pth`` of insightface's model zoo (``iresnet18/34/50/100``) loads into
:class:`FHIResNet` unchanged. Input: aligned 112x112 RGB normalised as insightface does,
``(x - 0.5) / 0.5`` for x in [0, 1] (the :class:`~fhgan_plugin.archs.face_recognizer.FaceEmbedder`
wrapper does this). Output: ``num_features``-d embedding (512 for ArcFace).
"""
from __future__ import annotations

import torch
from torch import nn

from fhgan_plugin.registry import register_arch

IRESNET_LAYERS: dict[int, list[int]] = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 14, 3], 100: [3, 13, 30, 3]}


class IRBlock(nn.Module):
    """Improved residual block: BN-conv3x3-BN-PReLU-conv3x3(stride)-BN, plus (projected) identity."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-5)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


@register_arch
class FHIResNet(nn.Module):
    """IR-ResNet-{18,34,50,100} embedding network (ArcFace backbone; ResNet34 is FH-GAN's).

    Args:
        depth: 18, 34, 50 or 100.
        num_features: Embedding size.
        dropout: Dropout before the embedding FC layer.
        input_size: Input side (112: the 7x7 final map the FC layer expects).

    Shapes:
        x (N, 3, input_size, input_size), normalised to [-1, 1] -> (N, num_features).
    """

    def __init__(self, depth: int = 34, num_features: int = 512, dropout: float = 0.0, input_size: int = 112) -> None:
        super().__init__()
        if depth not in IRESNET_LAYERS:
            raise ValueError(f'IR-ResNet depth must be one of {sorted(IRESNET_LAYERS)}, got {depth}')
        if input_size % 16:
            raise ValueError(f'input_size must be divisible by 16, got {input_size}')
        self.input_size = input_size
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        inplanes = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), IRESNET_LAYERS[depth])):
            blocks = [IRBlock(inplanes, planes, 2)] + [IRBlock(planes, planes, 1) for _ in range(n - 1)]
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
            inplanes = planes
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(p=dropout)
        side = input_size // 16
        self.fc = nn.Linear(512 * side * side, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False  # as insightface: the embedding BN has a fixed scale
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(f'FHIResNet expects {self.input_size}x{self.input_size} faces, got {tuple(x.shape)}')
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))
