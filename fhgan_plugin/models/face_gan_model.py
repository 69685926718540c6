"""Stage 2 of FH-GAN: DSNet trained with pixel + perceptual + WGAN-GP (+ optional frozen identity) losses.

Each iteration (mmagic style, small methods):

1. :meth:`critic_step` — ``E[D(G(x))] − E[D(y)] + λ_gp·GP`` (per-sample gradient penalty), every iteration;
2. :meth:`generator_step` — eq. 10 without the FR update: ``λ1·pixel + λ2·perceptual + λ3·(−E[D(G(x))])
   + λ4·identity`` (terms whose ``*_opt`` is absent are off), every ``net_d_iters`` iterations after
   ``net_d_init_iters`` (so ``net_d_iters`` = n_critic critic updates per generator update).

A non-finite loss stops training with an error naming the loss and the iteration before any optimizer
step uses it (the last saved checkpoint stays intact).
"""
from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Any

import torch
from basicsr.archs import build_network
from basicsr.losses import build_loss
from torch import nn

from fhgan_plugin.losses.wgan_gp_loss import WGANGPLoss
from fhgan_plugin.models.face_sr_model import FaceSRModel
from fhgan_plugin.registry import register_model


@contextmanager
def frozen(*nets: nn.Module):  # noqa: ANN201
    """Temporarily switch off ``requires_grad`` of the nets' parameters (restoring the previous flags)."""
    params = [p for n in nets for p in n.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


@register_model
class FaceGANModel(FaceSRModel):
    """GAN-based DSNet (stage 2). Options beyond SRModel's:

    ``network_d`` (e.g. FHCritic); ``train.gan_opt`` (WGANGPLoss: ``loss_weight`` = λ3, ``gp_weight`` = λ);
    ``train.perceptual_opt`` (FHPerceptualLoss, λ2); ``train.identity_opt`` (IdentityLoss, λ4, frozen FR);
    ``train.optim_d``; ``train.net_d_iters`` / ``net_d_init_iters``; per-network schedulers
    ``train.scheduler_g`` / ``scheduler_d`` (else the shared ``train.scheduler``).
    """

    TRAIN_KEYS = FaceSRModel.TRAIN_KEYS | {'optim_d', 'scheduler_d', 'gan_opt', 'identity_opt', 'net_d_iters',
                                           'net_d_init_iters'}

    def init_training_settings(self) -> None:
        t = self.opt['train']
        self.net_g.train()
        self.setup_ema()
        self.net_d = self.model_to_device(build_network(self.opt['network_d']))
        self.load_pretrained(self.net_d, 'd')
        self.net_d.train()
        self.cri_pix = build_loss(t['pixel_opt']).to(self.device) if t.get('pixel_opt') else None
        self.cri_perceptual = build_loss(t['perceptual_opt']).to(self.device) if t.get('perceptual_opt') else None
        self.cri_gan = build_loss(t['gan_opt']).to(self.device)
        if not isinstance(self.cri_gan, WGANGPLoss):
            raise TypeError(f'{type(self).__name__} trains a WGAN-GP critic: gan_opt.type must be WGANGPLoss')
        self.cri_identity = self.build_identity_loss(t.get('identity_opt'))
        self.net_d_iters = int(t.get('net_d_iters', 1))
        self.net_d_init_iters = int(t.get('net_d_init_iters', 0))
        self.setup_optimizers()
        self.setup_schedulers()

    # ----------------------------------------------------------------- set-up helpers
    def build_identity_loss(self, opt: dict[str, Any] | None) -> nn.Module | None:
        """Identity loss from options (its own frozen FR network in stage 2)."""
        return build_loss(opt).to(self.device) if opt else None

    def setup_optimizers(self) -> None:
        self.optimizer_g = self.build_optimizer('optim_g', list(self.net_g.parameters()))
        self.optimizer_d = self.build_optimizer('optim_d', list(self.net_d.parameters()))
        self.optimizers = [self.optimizer_g, self.optimizer_d]

    def optimizer_labels(self) -> list[str]:
        return ['g', 'd']

    # ----------------------------------------------------------------- one iteration
    def optimize_parameters(self, current_iter: int) -> None:
        self.current_iter = current_iter
        log: dict[str, torch.Tensor] = OrderedDict()
        update_g = current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters
        with torch.set_grad_enabled(update_g), self.autocast():  # no dangling DDP graph when G is not updated
            self.output = self.net_g(self.lq)
        log.update(self.critic_step())
        if update_g:
            log.update(self.generator_step())
            if self.ema_decay > 0:
                self.model_ema(decay=self.ema_decay)
        log.update(self.extra_steps())
        self.log_dict = self.reduce_loss_dict(log)

    def sync_gradients(self, *nets: nn.Module, buffers: bool = False) -> None:
        """Average gradients over ranks (and broadcast rank 0's buffers) for nets run through their bare
        module. The critic and the FR network are: the gradient penalty's double backward and the frozen
        uses in the generator step do not fit DistributedDataParallel's one-forward-one-backward hooks."""
        if not self.opt.get('dist'):
            return
        import torch.distributed as dist
        world = dist.get_world_size()
        for net in nets:
            bare = self.get_bare_model(net)
            for p in bare.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(world)
            if buffers:
                for b in bare.buffers():
                    dist.broadcast(b, 0)

    def critic_step(self) -> dict[str, torch.Tensor]:
        """One critic update with gradient penalty on (HR, detached SR) pairs."""
        self.optimizer_d.zero_grad(set_to_none=True)
        with self.autocast():
            loss, parts = self.cri_gan.critic_loss(self.get_bare_model(self.net_d), self.gt, self.output.detach())
        self.check_finite('l_d_wgan_gp', loss)
        loss.backward()
        self.sync_gradients(self.net_d)
        self.optimizer_d.step()
        return {'l_d_wgan_gp': loss.detach(), 'l_d_gp': parts['gp'], 'w_dist': parts['wasserstein'],
                'out_d_real': parts['d_real'], 'out_d_fake': parts['d_fake']}

    def generator_losses(self, sr: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted terms of eq. 10 for the generator (weights live in the losses' ``loss_weight``)."""
        losses: dict[str, torch.Tensor] = OrderedDict()
        if self.cri_pix is not None:
            losses['l_g_pix'] = self.cri_pix(sr, self.gt)
        if self.cri_perceptual is not None:
            losses.update(self.perceptual_terms(sr, self.gt, 'l_g_'))
        losses['l_g_gan'] = self.cri_gan(self.get_bare_model(self.net_d)(sr))
        if self.cri_identity is not None:
            losses['l_g_identity'] = self.identity_loss(sr)
        return losses

    def identity_loss(self, sr: torch.Tensor) -> torch.Tensor:
        return self.cri_identity(sr, self.gt)

    def generator_step(self) -> dict[str, torch.Tensor]:
        """One generator update (critic and FR frozen)."""
        self.optimizer_g.zero_grad(set_to_none=True)
        with frozen(*self.frozen_in_generator_step()):
            with self.autocast():
                losses = self.generator_losses(self.output)
                total = sum(losses.values())
            for name, value in losses.items():
                self.check_finite(name, value)
            total.backward()
        self.optimizer_g.step()
        return {**{k: v.detach() for k, v in losses.items()}, 'l_g_total': total.detach()}

    def frozen_in_generator_step(self) -> list[nn.Module]:
        return [self.net_d]

    def extra_steps(self) -> dict[str, torch.Tensor]:
        """Hook for further per-iteration updates (the FR step of the joint model)."""
        return {}

    # ----------------------------------------------------------------- saving
    def networks_to_save(self) -> dict[str, nn.Module]:
        return {'net_g': self.net_g, 'net_d': self.net_d}

    def save(self, epoch: int, current_iter: int) -> None:
        for label, net in self.networks_to_save().items():
            if label == 'net_g':
                self.save_generator(current_iter)
            else:
                self.save_network(net, label, current_iter)
        self.save_training_state(epoch, current_iter)
