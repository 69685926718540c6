"""Stage 1 of FH-GAN: the ArcFace network (backbone + additive angular margin head) on HR faces."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.models.base_model import BaseModel

from fhgan_plugin.data.verification_dataset import VerificationPairsDataset
from fhgan_plugin.models.face_sr_model import FaceSRModel
from fhgan_plugin.registry import register_model
from fhgan_plugin.utils.precision import channels_last_tensor


@register_model
class FaceRecognitionModel(FaceSRModel):
    """ArcFace training: ``network_fr`` (FaceEmbedder) + ``network_head`` (ArcMarginHead), ``train.arcface_opt``,
    ``train.optim_fr`` (SGD in the paper), ``train.scheduler``. Validation on a pairs dataset reports the
    verification accuracy of HR faces (``val.metrics`` with ``type: calculate_verification_accuracy``).
    There is no generator: ``network_g`` is not used.
    """

    TRAIN_KEYS = frozenset({'total_iter', 'warmup_iter', 'autocast', 'channels_last', 'arcface_opt', 'optim_fr',
                            'scheduler', 'scheduler_fr'})

    def __init__(self, opt: dict[str, Any]) -> None:
        self.check_train_keys(opt)
        BaseModel.__init__(self, opt)
        self.net_fr = self.model_to_device(build_network(opt['network_fr']))
        self.net_head = self.model_to_device(build_network(opt['network_head']))
        self.load_pretrained(self.net_fr, 'fr')
        self.load_pretrained(self.net_head, 'head')
        self.net_g = torch.nn.Identity()  # HR faces are validated as they are
        if self.is_train:
            self.init_training_settings()
        self.setup_precision()

    def init_training_settings(self) -> None:
        self.net_fr.train()
        self.net_head.train()
        self.cri_arcface = build_loss(self.opt['train']['arcface_opt']).to(self.device)
        self.optimizer_fr = self.build_optimizer('optim_fr', list(self.net_fr.parameters()) +
                                                 list(self.net_head.parameters()))
        self.optimizers = [self.optimizer_fr]
        self.setup_schedulers()

    def feed_data(self, data: dict[str, Any]) -> None:
        self.gt = data['gt'].to(self.device)
        if self.channels_last:
            self.gt = channels_last_tensor(self.gt)
        if 'label' in data:
            self.label = data['label'].to(self.device)

    def optimize_parameters(self, current_iter: int) -> None:
        self.current_iter = current_iter
        self.optimizer_fr.zero_grad(set_to_none=True)
        with self.autocast():
            emb = self.net_fr(self.gt)
        logits = self.net_head(emb.float(), self.label)  # margin head in float32 (bfloat16 cosines are too coarse)
        loss = self.cri_arcface(logits, self.label)
        self.check_finite('l_fr_arcface', loss)
        loss.backward()
        self.optimizer_fr.step()
        acc = (logits.detach().argmax(1) == self.label).float().mean()
        self.log_dict = self.reduce_loss_dict(OrderedDict(l_fr_arcface=loss.detach(), acc_fr=acc))

    @torch.no_grad()
    def super_resolve(self, lq: torch.Tensor) -> torch.Tensor:
        raise RuntimeError('FaceRecognitionModel has no generator')

    def nondist_validation(self, dataloader: Any, current_iter: int, tb_logger: Any, save_img: bool) -> None:
        if not isinstance(dataloader.dataset, VerificationPairsDataset):
            raise TypeError('FaceRecognitionModel validates on a VerificationPairsDataset')
        self.pair_validation(dataloader.dataset, current_iter, tb_logger, False, use_hr=True)

    def optimizer_labels(self) -> list[str]:
        return ['fr']

    def save(self, epoch: int, current_iter: int) -> None:
        self.save_network(self.net_fr, 'net_fr', current_iter)
        self.save_network(self.net_head, 'net_head', current_iter)
        self.save_training_state(epoch, current_iter)
