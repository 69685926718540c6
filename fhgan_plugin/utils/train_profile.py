"""Where one training iteration of an options file spends its time (``scripts/benchmark.py --sections training``).

:func:`profile_training` builds the model and the training data loader of an options file exactly as BasicSR's
``train.py`` does, then measures

* the **joint iteration** as the training loop runs it: next batch from the loader (its worker processes included),
  ``feed_data``, ``optimize_parameters``;
* each **part alone**, repeated on one batch: reading a batch in the main process (dataset + collate), ``feed_data``,
  and per model the forward / backward / optimizer pieces of its step (for FH-GAN: generator forward + backward, the
  critic step with its gradient penalty, each generator loss term's forward + backward on a detached SR batch —
  pixel, VGG perceptual, critic score, identity through the FR network —, the generator's optimizer step and the
  FR network's ArcFace step).

``ratio_joint_to_parts`` = joint / sum of the parts: above 1 means time spent outside the arithmetic (stalls,
copies, Python overhead). Times are medians of the timed repeats after warm-up; threads as set for the process.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from fhgan_plugin.utils.benchmark import time_call


def load_train_options(opt_path: str, force_yml: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The options of ``opt_path`` parsed by BasicSR's ``parse_options`` (is_train, paths, seed), single process."""
    from basicsr.utils.options import parse_options
    argv = sys.argv
    sys.argv = ['profile', '-opt', opt_path, '--force_yml', 'logger:use_tb_logger=false', *force_yml]
    try:
        opt, _ = parse_options(os.getcwd(), is_train=True)
    finally:
        sys.argv = argv
    opt.update(dist=False, rank=0, world_size=1)
    return opt


def build_training(opt: dict[str, Any]) -> tuple[Any, torch.utils.data.DataLoader]:
    """(model, training DataLoader) built with BasicSR's builders, as ``train.py`` builds them."""
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.data.data_sampler import EnlargedSampler
    from basicsr.models import build_model
    dataset_opt = dict(opt['datasets']['train'])
    dataset = build_dataset(dataset_opt)
    sampler = EnlargedSampler(dataset, 1, 0, dataset_opt.get('dataset_enlarge_ratio', 1))
    loader = build_dataloader(dataset, dataset_opt, num_gpu=opt['num_gpu'], dist=False, sampler=sampler,
                              seed=opt['manual_seed'])
    return build_model(opt), loader


def collate_items(dataset: torch.utils.data.Dataset, n: int, start: int = 0) -> dict[str, Any]:
    """A batch of ``n`` items read in this process (the data cost without worker processes)."""
    return torch.utils.data.default_collate([dataset[(start + i) % len(dataset)] for i in range(n)])


@contextmanager
def _grad_leaf(x: torch.Tensor) -> Iterator[torch.Tensor]:
    yield x.detach().clone().requires_grad_(True)


def _fwd_bwd(fn: Callable[[torch.Tensor], torch.Tensor], sr: torch.Tensor, autocast: Any) -> Callable[[], None]:
    """A timed call: ``fn(leaf)`` under autocast, then backward to the leaf (a loss term alone, without G)."""
    def run() -> None:
        with _grad_leaf(sr) as leaf:
            with autocast():
                loss = fn(leaf)
            loss.float().sum().backward()
    return run


def step_parts(model: Any, batch: dict[str, Any]) -> dict[str, Callable[[], None]]:
    """The parts of ``model.optimize_parameters`` as separately callable pieces (see module docstring)."""
    from fhgan_plugin.models.face_gan_model import FaceGANModel, frozen
    from fhgan_plugin.models.face_recognition_model import FaceRecognitionModel
    from fhgan_plugin.models.fhgan_model import FHGANModel
    parts: dict[str, Callable[[], None]] = {'feed_data': lambda: model.feed_data(batch)}
    model.feed_data(batch)
    ac = getattr(model, 'autocast', contextlib.nullcontext)  # BasicSR's own SRModel: float32 only
    if isinstance(model, FaceRecognitionModel):
        def fr_fwd_bwd() -> None:
            with ac():
                emb = model.net_fr(model.gt)
            model.cri_arcface(model.net_head(emb.float(), model.label), model.label).backward()
        parts['FR forward + ArcFace head + backward'] = fr_fwd_bwd
        parts['optimizer step (FR + head)'] = model.optimizer_fr.step
        return parts

    def g_fwd_bwd() -> None:
        with ac():
            out = model.net_g(model.lq)
        out.float().backward(torch.ones_like(out, dtype=torch.float32) / out.numel())
    parts['generator forward + backward'] = g_fwd_bwd
    with torch.no_grad(), ac():
        model.output = model.net_g(model.lq)
    sr = model.output.detach()
    if model.cri_pix is not None:
        parts['pixel loss forward + backward'] = _fwd_bwd(lambda x: model.cri_pix(x, model.gt), sr, ac)
    if model.cri_perceptual is not None:
        parts['VGG perceptual loss forward + backward'] = _fwd_bwd(
            lambda x: sum(model.perceptual_terms(x, model.gt).values()), sr, ac)
    parts['optimizer step (generator)'] = model.optimizer_g.step
    if not isinstance(model, FaceGANModel):
        return parts
    parts['critic step (WGAN-GP, gradient penalty, optimizer)'] = model.critic_step

    def critic_term(x: torch.Tensor) -> torch.Tensor:
        with frozen(*model.frozen_in_generator_step()):
            return model.cri_gan(model.get_bare_model(model.net_d)(x))
    parts['critic score of SR forward + backward'] = _fwd_bwd(critic_term, sr, ac)
    if model.cri_identity is not None:
        def identity_term(x: torch.Tensor) -> torch.Tensor:
            with frozen(*model.frozen_in_generator_step()):
                return model.identity_loss(x)
        parts['identity loss (FR) forward + backward'] = _fwd_bwd(identity_term, sr, ac)
    if isinstance(model, FHGANModel):
        parts['FR ArcFace step on cat(HR, SR)'] = model.recognition_step
    return parts


def profile_training(opt_path: str, force_yml: list[str] | tuple[str, ...] = (), iters: int = 6, warmup: int = 2,
                     time_box: float = 60.0) -> dict[str, Any]:
    """Joint iteration vs its parts for one options file (see module docstring).

    Args:
        opt_path: Training options file.
        force_yml: BasicSR ``--force_yml`` overrides, e.g. ``['train:autocast=~']``.
        iters: Timed repeats of the joint iteration and of every part.
        warmup: Untimed calls first.
        time_box: Seconds of timed calls per measurement before stopping early (at least 2 repeats).
    """
    opt = load_train_options(opt_path, force_yml)
    torch.manual_seed(opt.get('manual_seed', 0))
    model, loader = build_training(opt)
    timing = dict(warmup=warmup, repeats=iters, time_box=time_box)
    it = iter(loader)
    state = {'iter': 0}

    def joint() -> None:
        nonlocal it
        try:
            data = next(it)
        except StopIteration:
            it = iter(loader)
            data = next(it)
        state['iter'] += 1
        model.feed_data(data)
        model.optimize_parameters(state['iter'])
    t0 = time.perf_counter()
    joint_t = time_call(joint, **timing)
    dataset = loader.dataset
    bsz = opt['datasets']['train']['batch_size_per_gpu']
    parts_t = {'data (dataset + collate, in process)': time_call(lambda: collate_items(dataset, bsz), **timing)}
    batch = collate_items(dataset, bsz)
    for name, fn in step_parts(model, batch).items():
        parts_t[name] = time_call(fn, **timing)
    total = sum(p['median_s'] for p in parts_t.values())
    t = opt.get('train') or {}
    return {'options': opt_path, 'force_yml': list(force_yml), 'model_type': opt['model_type'],
            'batch': bsz, 'num_worker': opt['datasets']['train'].get('num_worker_per_gpu'),
            'autocast': str(getattr(model, 'autocast_dtype', None) or 'float32'),
            'autocast_option': t.get('autocast'), 'channels_last': getattr(model, 'channels_last', False),
            'threads': torch.get_num_threads(), 'joint_iteration': joint_t,
            'parts': parts_t, 'sum_of_parts_median_s': total,
            'ratio_joint_to_parts': joint_t['median_s'] / total, 'seconds': time.perf_counter() - t0}

