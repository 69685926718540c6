"""WGAN-GP (Gulrajani et al. 2017) with the gradient norm taken per sample.

BasicSR's ``gradient_penalty_loss`` takes the norm over the channel dimension only (one norm per
pixel); the WGAN-GP penalty is on the norm of the gradient of D with respect to the whole image,
flattened over C·H·W, one norm per sample.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fhgan_plugin.losses.reduction import check_reduction, reduce
from fhgan_plugin.registry import register_loss


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample penalty (‖∇D(x̂)‖₂ − 1)² at x̂ on straight lines between paired real and fake samples.

    Args:
        critic: D, mapping (N, C, H, W) to (N, 1) or (N,).
        real, fake: (N, C, H, W); ``fake`` should be detached from the generator.
        alpha: Optional (N,) interpolation weights in [0, 1] (uniform random by default).

    Returns:
        (N,) penalties (differentiable w.r.t. the critic's parameters).
    """
    if real.shape != fake.shape:
        raise ValueError(f'real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape')
    n = real.shape[0]
    if alpha is None:
        alpha = torch.rand(n, device=real.device, dtype=real.dtype)
    alpha = alpha.view(n, *([1] * (real.dim() - 1)))
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    grad, = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2)


@register_loss
class WGANGPLoss(nn.Module):
    """WGAN-GP losses for critic and generator.

    * ``forward(fake_scores)`` — generator loss ``−E[D(fake)]``, times ``loss_weight``;
    * ``critic_loss(critic, real, fake)`` — ``E[D(fake)] − E[D(real)] + gp_weight·E[(‖∇D(x̂)‖₂ − 1)²]``
      (not scaled by ``loss_weight``, which weights the generator term inside the total generator loss).

    Args:
        loss_weight: Weight of the generator term (λ3 of eq. 10).
        gp_weight: λ of the gradient penalty (10).
        reduction: 'mean' | 'sum' | 'none' over the batch.
    """

    def __init__(self, loss_weight: float = 1.0, gp_weight: float = 10.0, reduction: str = 'mean') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.gp_weight = gp_weight
        self.reduction = check_reduction(reduction)

    def forward(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * reduce(-fake_scores.reshape(fake_scores.shape[0], -1).mean(1), self.reduction)

    def critic_loss(self, critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                    fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Critic loss and its parts (``wasserstein`` = E[D(real)] − E[D(fake)], ``gp``, scores)."""
        d_real = critic(real).reshape(real.shape[0])
        d_fake = critic(fake.detach()).reshape(fake.shape[0])
        gp = gradient_penalty(critic, real, fake)
        per_sample = d_fake - d_real + self.gp_weight * gp
        parts = {'wasserstein': (d_real - d_fake).mean().detach(), 'gp': gp.mean().detach(),
                 'd_real': d_real.mean().detach(), 'd_fake': d_fake.mean().detach()}
        return reduce(per_sample, self.reduction), parts
