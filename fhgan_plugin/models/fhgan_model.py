"""Stage 3 of FH-GAN: generator, critic and ArcFace trained jointly (eq. 6-10).

Per iteration: :meth:`critic_step` (WGAN-GP), :meth:`generator_step` (eq. 10: λ1·pixel + λ2·perceptual +
λ3·WGAN + λ4·identity, the identity term through the jointly trained FR network, which is frozen during
this step), then :meth:`recognition_step`: the FR network and its margin head updated with their own
optimizer (SGD in the paper) on the ArcFace loss (eq. 8) over the concatenation of HR and detached SR
faces, both labelled with the identity of the HR face.
"""
from __future__ import annotations

from typing import Any

import torch
from basicsr.archs import build_network
from basicsr.losses import build_loss
from torch import nn

from fhgan_plugin.losses.identity_loss import IdentityLoss
from fhgan_plugin.models.face_gan_model import FaceGANModel
from fhgan_plugin.registry import register_model


@register_model
class FHGANModel(FaceGANModel):
    """Joint FH-GAN. Options beyond :class:`FaceGANModel`'s:

    ``network_fr`` (FaceEmbedder: backbone + optional ``pretrain_path``), ``network_head`` (ArcMarginHead with
    ``num_classes`` of the training set), ``train.arcface_opt`` (ArcFaceLoss), ``train.optim_fr`` (covers FR
    and head), ``train.scheduler_fr``; ``train.identity_opt`` holds IdentityLoss's own options except the
    network (``distance``, ``normalize``, ``loss_weight``, ``augment_views``, ``max_shift``, ``feature_layers``,
    ``feature_weight``, ``reduction``), since it
    uses ``network_fr``.
    Training data must carry ``label`` (FaceIdentityDataset).
    """

    TRAIN_KEYS = FaceGANModel.TRAIN_KEYS | {'arcface_opt', 'optim_fr', 'scheduler_fr'}

    def init_training_settings(self) -> None:
        self.net_fr = self.model_to_device(build_network(self.opt['network_fr']))
        self.load_pretrained(self.net_fr, 'fr')
        self.net_head = self.model_to_device(build_network(self.opt['network_head']))
        self.load_pretrained(self.net_head, 'head')
        self.cri_arcface = build_loss(self.opt['train']['arcface_opt']).to(self.device)
        super().init_training_settings()
        self.net_fr.train()
        self.net_head.train()

    def build_identity_loss(self, opt: dict[str, Any] | None) -> nn.Module | None:
        if not opt:
            return None
        opt = {k: v for k, v in opt.items() if k not in ('type', 'network_fr', 'frozen')}
        return IdentityLoss(embedder=self.get_bare_model(self.net_fr), frozen=False, **opt)

    def setup_optimizers(self) -> None:
        super().setup_optimizers()
        params = list(self.net_fr.parameters()) + list(self.net_head.parameters())
        self.optimizer_fr = self.build_optimizer('optim_fr', params)
        self.optimizers.append(self.optimizer_fr)

    def optimizer_labels(self) -> list[str]:
        return ['g', 'd', 'fr']

    def identity_loss(self, sr: torch.Tensor) -> torch.Tensor:
        fr = self.get_bare_model(self.net_fr)
        was = fr.training
        fr.eval()  # fixed BN statistics while the FR net only judges identity
        try:
            return self.cri_identity(sr, self.gt)
        finally:
            fr.train(was)

    def frozen_in_generator_step(self) -> list[nn.Module]:
        return [self.net_d, self.net_fr]

    def extra_steps(self) -> dict[str, torch.Tensor]:
        return self.recognition_step()

    def recognition_step(self) -> dict[str, torch.Tensor]:
        """ArcFace update of FR + head on cat(HR, detached SR) with the HR labels (eq. 8)."""
        if not hasattr(self, 'label'):
            raise KeyError('FHGANModel needs identity labels: use FaceIdentityDataset for the training set')
        faces = torch.cat([self.gt, self.output.detach()])
        labels = torch.cat([self.label, self.label])
        self.optimizer_fr.zero_grad(set_to_none=True)
        fr, head = self.get_bare_model(self.net_fr), self.get_bare_model(self.net_head)
        with self.autocast():
            emb = fr(faces)
        logits = head(emb.float(), labels)  # the margin head in float32: bfloat16 cosines are too coarse for s=64
        loss = self.cri_arcface(logits, labels)
        self.check_finite('l_fr_arcface', loss)
        loss.backward()
        self.sync_gradients(self.net_fr, self.net_head, buffers=True)
        self.optimizer_fr.step()
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return {'l_fr_arcface': loss.detach(), 'acc_fr': acc}

    def networks_to_save(self) -> dict[str, nn.Module]:
        return {**super().networks_to_save(), 'net_fr': self.net_fr, 'net_head': self.net_head}
