"""The FH-GAN critic: a DCGAN discriminator without batch norm (WGAN-GP forbids per-batch coupling)."""
from __future__ import annotations

import torch
from torch import nn

from fhgan_plugin.registry import register_arch


@register_arch
class FHCritic(nn.Module):
    """DCGAN-style critic: strided 4x4 convs + LeakyReLU(0.2), no normalisation, linear head to one score.

    Choices (the paper only says "DCGAN without batch norm"): ``num_down`` = 4 stride-2 convs with widths
    64-128-256-512 (doubling, capped at ``max_feat``), then a linear layer on the flattened map
    (7x7 for 112 inputs, 8x8 for 128). BasicSR's ``VGGStyleDiscriminator`` has BN and accepts only
    128/256 inputs, so it cannot serve WGAN-GP on 112x112 faces.

    Args:
        num_in_ch: Input channels.
        num_feat: Channels of the first conv.
        num_down: Number of stride-2 convs.
        max_feat: Width cap.
        input_size: Input side (any size; the head is sized for it).

    Shapes:
        x (N, num_in_ch, input_size, input_size) -> (N, 1) unbounded scores.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, num_down: int = 4, max_feat: int = 512,
                 input_size: int = 112) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin, size = num_in_ch, input_size
        for i in range(num_down):
            cout = min(num_feat * 2**i, max_feat)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            cin, size = cout, size // 2
        if size < 1:
            raise ValueError(f'input_size {input_size} is too small for {num_down} stride-2 convs')
        self.input_size = input_size
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin * size * size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(f'FHCritic was built for {self.input_size}x{self.input_size} inputs, '
                             f'got {tuple(x.shape)}; set input_size')
        return self.head(torch.flatten(self.features(x), 1))
