"""SRModel with face-verification validation: any BasicSR arch can be validated on pairs datasets."""
from __future__ import annotations

import json
import math
import os
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from basicsr.archs import build_network
from basicsr.models import lr_scheduler as basicsr_lr
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger, imwrite, tensor2img

from fhgan_plugin.archs.face_recognizer import FaceEmbedder
from fhgan_plugin.data.verification_dataset import VerificationPairsDataset
from fhgan_plugin.errors import OptionError
from fhgan_plugin.metrics.verification import verify_embeddings, verify_gallery_probe
from fhgan_plugin.registry import register_model
from fhgan_plugin.utils.metrics import psnr_ssim_batch
from fhgan_plugin.utils.precision import autocast, channels_last_tensor, parse_autocast, to_channels_last
from fhgan_plugin.utils.upsample import pil_upsample


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


#: Optimizer hyper-parameters that must be numbers (a YAML ``1e-4`` without a dot is read as a string).
NUMERIC_OPTIM_KEYS = ('lr', 'weight_decay', 'momentum', 'eps', 'dampening', 'alpha')


def _yaml_number_hint(value: Any) -> str:
    try:
        float(value)
    except (TypeError, ValueError):
        return ''
    return f' (YAML reads {value} as text: write it with a dot, e.g. 1.0e-4, or as !!float {value})'


@register_model
class FaceSRModel(SRModel):
    """BasicSR's SRModel plus validation on :class:`VerificationPairsDataset`.

    On a pairs dataset the validation super-resolves every unique image once (batched), computes the
    requested PSNR/SSIM (BasicSR's functions, uint8 RGB, crop border 0) and the face-verification
    accuracy (%) of the SR faces with the project's 10-fold protocol. Metric names come from
    ``val.metrics`` as usual; a metric of ``type: calculate_verification_accuracy`` selects verification.
    The FR network for it is the model's own (``self.net_fr``) when it has one, else ``val.fr`` (FaceEmbedder
    options, e.g. the shared MobileFaceNet). ``save_img`` writes HR | bicubic | SR grids of the first
    ``val.num_save`` (8) images. A pairs dataset with ``protocol: gallery-probe`` scores each pair's SR probe against
    its HR gallery face (the validation the real-input models are chosen by).

    Training precision (all models of the plugin): ``train.autocast: bfloat16`` runs the training forward passes
    under bfloat16 autocast (``auto``: where the device runs bfloat16 natively) and ``train.channels_last: true``
    keeps networks and batches in channels_last layout (see :mod:`fhgan_plugin.utils.precision`); both off unless
    set (the CPU-scale options set ``auto`` and ``true``).
    """

    val_batch_size = 32
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    ema_decay: float = 0.0
    #: The ``train:`` keys this model (and BasicSR's training loop) reads; any other key is an error.
    TRAIN_KEYS: frozenset[str] = frozenset({'total_iter', 'warmup_iter', 'autocast', 'channels_last', 'ema_decay',
                                            'optim_g', 'scheduler', 'scheduler_g', 'pixel_opt', 'perceptual_opt'})

    def __init__(self, opt: dict[str, Any]) -> None:
        self.check_train_keys(opt)
        super().__init__(opt)
        self.setup_precision()

    @classmethod
    def check_train_keys(cls, opt: dict[str, Any]) -> None:
        """Refuse ``train:`` keys the model would not read (a misspelt key must not silently train something else).

        Raises:
            OptionError: naming the unknown key(s) and listing the valid ones.
        """
        if not opt.get('is_train'):
            return
        unknown = sorted(set(opt.get('train') or {}) - cls.TRAIN_KEYS)
        if unknown:
            raise OptionError(f'{cls.__name__} does not read train.{", train.".join(unknown)}; valid train keys: '
                              f'{", ".join(sorted(cls.TRAIN_KEYS))}')

    def setup_precision(self) -> None:
        """Read ``train.autocast`` / ``train.channels_last`` once; convert every network and loss module."""
        t = (self.opt.get('train') or {}) if self.is_train else {}
        self.autocast_dtype = parse_autocast(t.get('autocast'), self.device)
        self.channels_last = bool(t.get('channels_last', False))
        if self.is_train:
            get_root_logger().info(f"Training precision: {'bfloat16 autocast' if self.autocast_dtype else 'float32'} "
                                   f"(train.autocast: {t.get('autocast')}), channels_last {self.channels_last}")
        if self.channels_last:
            to_channels_last(*[m for m in vars(self).values() if isinstance(m, torch.nn.Module)])

    def autocast(self):  # noqa: ANN201
        """Context for training forward passes (bfloat16 autocast if ``train.autocast`` is set)."""
        return autocast(self.device, self.autocast_dtype)

    def optimize_parameters(self, current_iter: int) -> None:
        """SRModel's step (pixel + perceptual losses, EMA) with the forward pass under :meth:`autocast`."""
        self.optimizer_g.zero_grad(set_to_none=True)
        loss_dict: dict[str, torch.Tensor] = OrderedDict()
        with self.autocast():
            self.output = self.net_g(self.lq)
            if self.cri_pix:
                loss_dict['l_pix'] = self.cri_pix(self.output, self.gt)
            if self.cri_perceptual:
                loss_dict.update(self.perceptual_terms(self.output, self.gt))
        sum(loss_dict.values()).backward()
        self.optimizer_g.step()
        self.log_dict = self.reduce_loss_dict(loss_dict)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)

    def perceptual_terms(self, sr: torch.Tensor, gt: torch.Tensor, prefix: str = 'l_') -> dict[str, torch.Tensor]:
        """The perceptual loss's terms under one contract: BasicSR's ``PerceptualLoss`` returns a
        (perceptual, style) pair, either of which may be None; ``FHPerceptualLoss`` returns one tensor."""
        out = self.cri_perceptual(sr, gt)
        percep, style = out if isinstance(out, tuple) else (out, None)
        terms = {}
        if percep is not None:
            terms[f'{prefix}percep'] = percep
        if style is not None:
            terms[f'{prefix}style'] = style
        return terms

    # ----------------------------------------------------------------- set-up helpers shared by every model
    def setup_ema(self) -> None:
        """BasicSR's EMA generator, as ``SRModel`` builds it: with ``train.ema_decay`` > 0, ``net_g_ema`` is
        ``net_g``'s exponential moving average (loaded from ``pretrain_network_g``'s ``params_ema`` when
        given), updated after every generator step, saved as ``params_ema`` and used for validation.

        Raises:
            OptionError: ``ema_decay`` outside [0, 1).
        """
        decay = self.opt['train'].get('ema_decay', 0)
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise OptionError(f'train.ema_decay must be a number in [0, 1) (0: no EMA), got {decay!r}')
        self.ema_decay = float(decay)
        if self.ema_decay == 0:
            return
        self.net_g_ema = build_network(self.opt['network_g']).to(self.device)
        path = self.opt['path'].get('pretrain_network_g')
        if path is not None:
            self.load_network(self.net_g_ema, path, self.opt['path'].get('strict_load_g', True), 'params_ema')
        else:
            self.model_ema(0)  # a copy of net_g
        self.net_g_ema.eval()

    def save_generator(self, current_iter: int) -> None:
        """``net_g_<iter>.pth`` with ``params`` (and ``params_ema`` when the EMA generator is on)."""
        if getattr(self, 'net_g_ema', None) is not None:
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)

    def load_pretrained(self, net: torch.nn.Module, label: str) -> None:
        """Load ``path.pretrain_network_<label>`` (with ``param_key_<label>``, ``strict_load_<label>``) if set."""
        path = self.opt['path'].get(f'pretrain_network_{label}')
        if path is not None:
            self.load_network(net, path, self.opt['path'].get(f'strict_load_{label}', True),
                              self.opt['path'].get(f'param_key_{label}', 'params'))

    def build_optimizer(self, key: str, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """The optimizer of ``train.<key>`` over the parameters that require grad (options are not mutated).

        Raises:
            OptionError: naming ``train.<key>`` (and the field) when the type is unknown or a value is wrong.
        """
        opt = dict(self.opt['train'].get(key) or {})
        if 'type' not in opt:
            raise OptionError(f'train.{key} needs a type (a torch.optim optimizer, e.g. Adam)')
        kind = opt.pop('type')
        for field, value in opt.items():
            if field in NUMERIC_OPTIM_KEYS and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise OptionError(f'train.{key}.{field} must be a number, got {value!r}{_yaml_number_hint(value)}')
        try:
            return self.get_optimizer(kind, [p for p in params if p.requires_grad], **opt)
        except (TypeError, ValueError) as err:
            raise OptionError(f'train.{key} ({kind}): {err}') from err

    def setup_optimizers(self) -> None:
        self.optimizer_g = self.build_optimizer('optim_g', list(self.net_g.parameters()))
        self.optimizers = [self.optimizer_g]

    def optimizer_labels(self) -> list[str]:
        """Labels of ``self.optimizers`` in order (``scheduler_<label>`` options)."""
        return ['g']

    def setup_schedulers(self) -> None:
        """One scheduler per optimizer: ``train.scheduler_<label>`` if given, else the shared ``train.scheduler``.

        Raises:
            OptionError: naming the scheduler key when its type is unknown or a value is wrong.
        """
        t = self.opt['train']
        self.schedulers = []
        for label, optimizer in zip(self.optimizer_labels(), self.optimizers):
            key = f'scheduler_{label}' if t.get(f'scheduler_{label}') else 'scheduler'
            opt = dict(t.get(key) or {})
            kind = opt.pop('type', None)
            classes = {'MultiStepLR': basicsr_lr.MultiStepRestartLR,
                       'MultiStepRestartLR': basicsr_lr.MultiStepRestartLR,
                       'CosineAnnealingRestartLR': basicsr_lr.CosineAnnealingRestartLR}
            if kind not in classes:
                raise OptionError(f'train.{key}.type must be one of {sorted(classes)}, got {kind!r}')
            try:
                self.schedulers.append(classes[kind](optimizer, **opt))
            except (TypeError, ValueError) as err:
                raise OptionError(f'train.{key} ({kind}): {err}') from err

    def check_finite(self, name: str, value: torch.Tensor) -> None:
        """Stop with a clear message if a loss is NaN/inf (before any optimizer step uses it)."""
        v = float(value.detach().float().mean())
        if not math.isfinite(v):
            raise NonFiniteLossError(f'{name} = {v} at iteration {getattr(self, "current_iter", "?")}: stopping '
                                     'before the update; the last saved checkpoint is intact. Lower the learning '
                                     'rate or the loss weights, or resume from the last state.')

    def get_optimizer(self, optim_type: str, params: Any, lr: float, **kwargs: Any) -> torch.optim.Optimizer:
        """Any ``torch.optim`` optimizer by name (BasicSR 1.4.2 knows only Adam/AdamW/Adamax/ASGD/RMSprop/Rprop;
        the paper's FR stage uses SGD)."""
        cls = getattr(torch.optim, optim_type, None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise NotImplementedError(f'optimizer {optim_type!r} is not in torch.optim')
        return cls(params, lr, **kwargs)

    def feed_data(self, data: dict[str, Any]) -> None:
        super().feed_data(data)
        if self.channels_last:
            self.lq = channels_last_tensor(self.lq)
            if hasattr(self, 'gt'):
                self.gt = channels_last_tensor(self.gt)
        if 'label' in data:
            self.label = data['label'].to(self.device)

    def nondist_validation(self, dataloader: Any, current_iter: int, tb_logger: Any, save_img: bool) -> None:
        if isinstance(dataloader.dataset, VerificationPairsDataset):
            self.pair_validation(dataloader.dataset, current_iter, tb_logger, save_img)
        else:
            super().nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def dist_validation(self, dataloader: Any, current_iter: int, tb_logger: Any, save_img: bool) -> None:
        # every rank computes the same numbers (pairs need all embeddings); rank 0 logs them
        if isinstance(dataloader.dataset, VerificationPairsDataset):
            self.pair_validation(dataloader.dataset, current_iter, tb_logger, save_img)
        elif self.opt['rank'] == 0:
            super().nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def validation_embedder(self) -> torch.nn.Module:
        """The FR network used by the verification metric."""
        own = getattr(self, 'net_fr', None)
        if own is not None:
            return self.get_bare_model(own)
        if getattr(self, '_val_fr', None) is None:
            fr_opt = self.opt['val'].get('fr')
            if fr_opt is None:
                raise KeyError('verification validation needs an FR network: give the model a network_fr or set '
                               'val.fr (FaceEmbedder options, e.g. {backbone: {type: FHMobileFaceNet}, '
                               'pretrain_path: ...})')
            self._val_fr = FaceEmbedder(**fr_opt).to(self.device).eval()
        return self._val_fr

    @torch.no_grad()
    def super_resolve(self, lq: torch.Tensor) -> torch.Tensor:
        """SR of a batch with the (EMA) generator in eval mode, clamped to [0, 1]."""
        net = getattr(self, 'net_g_ema', None) or self.net_g
        was = net.training
        net.eval()
        out = net(lq.to(self.device)).clamp(0, 1)
        net.train(was)
        return out

    @torch.no_grad()
    def pair_validation(self, dataset: VerificationPairsDataset, current_iter: int, tb_logger: Any,
                        save_img: bool, use_hr: bool = False) -> dict[str, float]:
        """Validation on a pairs dataset (see class docstring); ``use_hr`` judges the HR faces themselves."""
        t_start = time.perf_counter()
        metrics = self.opt['val'].get('metrics') or {}
        kinds = {name: m['type'] for name, m in metrics.items()}
        name = dataset.opt['name']
        want_fr = 'calculate_verification_accuracy' in kinds.values()
        fr = self.validation_embedder() if want_fr else None
        if fr is not None:
            fr_was = fr.training
            fr.eval()
        gallery_probe = getattr(dataset, 'protocol', 'lr-lr') == 'gallery-probe' and not use_hr
        psnr, ssim, embs, hr_embs, shown = [], [], [], [], []
        for start in range(0, len(dataset.images), self.val_batch_size):
            items = [dataset.image_item(r) for r in dataset.images[start:start + self.val_batch_size]]
            lq = torch.stack([it['lq'] for it in items])
            gt = torch.stack([it['gt'] for it in items])
            sr = gt if use_hr else self.super_resolve(lq).cpu()
            if any(k in ('calculate_psnr', 'calculate_ssim') for k in kinds.values()):
                p, s = psnr_ssim_batch(sr, gt)
                psnr += p
                ssim += s
            if fr is not None:
                embs.append(torch.nn.functional.normalize(fr(sr.to(self.device)), dim=1).cpu())
                if gallery_probe:
                    hr_embs.append(torch.nn.functional.normalize(fr(gt.to(self.device)), dim=1).cpu())
            if save_img and len(shown) < self.opt['val'].get('num_save', 8):
                shown += [(lq[i], sr[i], gt[i], items[i]['gt_path']) for i in range(len(items))]
        results: dict[str, float] = OrderedDict()
        for mname, kind in kinds.items():
            if kind == 'calculate_psnr':
                results[mname] = float(np.mean(psnr))
            elif kind == 'calculate_ssim':
                results[mname] = float(np.mean(ssim))
            elif kind == 'calculate_verification_accuracy':
                res = verify_gallery_probe(torch.cat(embs), torch.cat(hr_embs), dataset.images, dataset.pairs) \
                    if gallery_probe else verify_embeddings(torch.cat(embs), dataset.images, dataset.pairs)
                results[mname] = 100.0 * res.accuracy
            else:
                raise ValueError(f'metric type {kind!r} is not supported on a pairs dataset; use calculate_psnr, '
                                 'calculate_ssim or calculate_verification_accuracy')
        if fr is not None:
            fr.train(fr_was)
        if save_img:
            self.save_pair_grids(shown[:self.opt['val'].get('num_save', 8)], name, current_iter)
        if results:
            self.record_validation(name, current_iter, results, time.perf_counter() - t_start, len(dataset.images))
            self.metric_results = dict(results)
            self._initialize_best_metric_results(name)
            for mname, value in results.items():
                self._update_best_metric_result(name, mname, value, current_iter)
            self._log_validation_metric_values(current_iter, name, tb_logger)
        return results

    def record_validation(self, dataset_name: str, current_iter: Any, results: dict[str, float], seconds: float,
                          images: int) -> None:
        """Append one JSON line per pair validation to ``<log folder>/validation_metrics.jsonl`` (rank 0): the
        machine-readable history of the validation metrics, with the iteration and the time it took."""
        folder = self.opt['path'].get('log')
        if not folder or self.opt.get('rank', 0) != 0:
            return
        row = {'iter': current_iter, 'dataset': dataset_name, **results, 'seconds': round(seconds, 1),
               'images': images, 'time': time.strftime('%Y-%m-%d %H:%M:%S')}
        with open(os.path.join(folder, 'validation_metrics.jsonl'), 'a') as f:
            f.write(json.dumps(row) + '\n')

    def save_pair_grids(self, shown: list, dataset_name: str, current_iter: int) -> None:
        """Write one HR | bicubic | SR grid per image (and a combined one) under the visualization folder."""
        rows = []
        for lq, sr, gt, _ in shown:
            bic = pil_upsample(lq[None], sr.shape[-1] // lq.shape[-1])[0]
            row = torch.cat([gt, bic, sr], 2)
            rows.append(row)
        if not rows:
            return
        folder = os.path.join(self.opt['path']['visualization'], dataset_name)
        imwrite(tensor2img([torch.cat(rows, 1)]), os.path.join(folder, f'grid_hr_bicubic_sr_{current_iter}.png'))
