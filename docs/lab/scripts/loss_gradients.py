"""How much each weighted loss term pulls on the generator: per-term gradient norms at saved checkpoints.

For each checkpoint iteration of a GAN / FH-GAN run, the model is built from the run's options with the saved
``net_g`` / ``net_d`` (/ ``net_fr``) of that iteration, and for a few fixed random training batches the
L2 norm of the gradient of every weighted generator term (``l_g_pix``, ``l_g_percep``, ``l_g_gan``,
``l_g_identity``) with respect to all generator parameters is measured separately, beside the terms' values.
Iteration ``0`` means the run's start (the options' own ``pretrain_network_*``; its critic is then untrained).
With ``--eval-meta`` (an image list such as ``datasets/meta/lfw_val500.txt``) the terms' values are also
averaged over those held-out faces, so that training and test values can be compared. Nothing is updated.
Used in docs/experiments.md "How far can the identity loss go?" to show that from λ4 ≈ 100 on the identity
term all but alone drives the generator.

Example::

    python docs/lab/scripts/loss_gradients.py --opt options/train/FHGAN/train_FHGAN_x4_cpu.yml \\
        --run experiments/FHGAN_joint_id250_it1200_x4_cpu_bf16_b16 --iters 100,600,1200 \\
        --force-yml train:identity_opt:loss_weight=250.0 --out results/loss_gradients_id250.json

Writes JSON: ``{"options": …, "run": …, "batches": n, "iters": {"600": {"grad": {"l_g_pix": norm, …},
"train": {"l_g_pix": value, …}, "eval": {…}}}}`` (means over the batches / images; values are weighted, as
logged in training), and logs them per iteration.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))  # the repository root

import fhgan_plugin  # noqa: E402,F401  registers the plugin and aliases torchvision before basicsr is imported

logger = logging.getLogger('fhgan_plugin')


def build_at(opt_path: str, run: str, it: str, force_yml: list[str]) -> Any:
    """The run's model with the networks saved at iteration ``it`` (critic / FR only if they were saved)."""
    from basicsr.models import build_model
    from basicsr.utils.options import parse_options
    models = os.path.join(run, 'models')
    forced = [] if it == '0' else [f'path:pretrain_network_g={models}/net_g_{it}.pth']
    for label in ('d', 'fr') if it != '0' else ():
        path = os.path.join(models, f'net_{label}_{it}.pth')
        if os.path.isfile(path):
            forced.append(f'path:pretrain_network_{label}={path}')
    argv = sys.argv
    sys.argv = ['loss_gradients', '-opt', opt_path, '--force_yml', *force_yml, *forced, 'logger:use_tb_logger=false']
    try:
        opt, _ = parse_options(os.getcwd(), is_train=True)
    finally:
        sys.argv = argv
    opt.update(dist=False, rank=0, world_size=1)
    return build_model(opt), opt


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, first in items[0].items():
        if torch.is_tensor(first):
            out[key] = torch.stack([x[key] for x in items])
        elif isinstance(first, (int, float)):
            out[key] = torch.tensor([x[key] for x in items])
        else:
            out[key] = [x[key] for x in items]
    return out


def gradient_norms(model: Any, batches: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Means over batches of ||d term / d θ_G|| and of the term's value, for each weighted generator term."""
    params = [p for p in model.net_g.parameters() if p.requires_grad]
    norms: dict[str, float] = {}
    values: dict[str, float] = {}
    for data in batches:
        model.feed_data(data)
        with model.autocast():
            sr = model.net_g(model.lq)
            losses = model.generator_losses(sr)
        for name, value in losses.items():
            grads = torch.autograd.grad(value.float(), params, retain_graph=True, allow_unused=True)
            norm = torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)).item()
            norms[name] = norms.get(name, 0.0) + norm
            values[name] = values.get(name, 0.0) + float(value.detach().float())
    return ({k: v / len(batches) for k, v in norms.items()}, {k: v / len(batches) for k, v in values.items()})


@torch.no_grad()
def term_values(model: Any, dataset: Any, batch_size: int) -> dict[str, float]:
    """Mean (over all images of ``dataset``) of each weighted generator term, without gradients."""
    sums: dict[str, float] = {}
    count = 0
    for start in range(0, len(dataset), batch_size):
        data = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        model.feed_data(data)
        with model.autocast():
            losses = model.generator_losses(model.net_g(model.lq))
        n = data['gt'].shape[0]
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + float(value.float()) * n
        count += n
    return {k: v / count for k, v in sums.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--opt', required=True, help='the run\'s options file')
    parser.add_argument('--run', required=True, help='the run\'s experiments folder (with models/)')
    parser.add_argument('--iters', required=True, help='comma-separated checkpoint iterations, e.g. 100,600')
    parser.add_argument('--force-yml', nargs='*', default=[], help='option overrides the run was trained with')
    parser.add_argument('--batches', type=int, default=4)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--seed', type=int, default=123)
    parser.add_argument('--eval-meta', default=None, help='image list (relative to the training dataroot_gt) of '
                        'held-out faces, e.g. datasets/meta/lfw_val500.txt')
    parser.add_argument('--out', default=None, help='JSON file to write')
    args = parser.parse_args(argv)
    result: dict[str, Any] = {'options': args.opt, 'run': args.run, 'force_yml': args.force_yml,
                              'batches': args.batches, 'batch_size': args.batch_size, 'iters': {}}
    from basicsr.data import build_dataset
    dataset = held_out = None
    for it in args.iters.split(','):
        model, opt = build_at(args.opt, args.run, it, args.force_yml)
        if dataset is None:
            dataset = build_dataset(opt['datasets']['train'])
            gen = torch.Generator().manual_seed(args.seed)
            batches = [collate([dataset[i] for i in torch.randint(len(dataset), (args.batch_size,), generator=gen)
                                .tolist()]) for _ in range(args.batches)]
            if args.eval_meta:
                from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
                train_opt = opt['datasets']['train']
                held_out = FaceSRDataset({'name': 'held_out', 'phase': 'val', 'dataroot_gt': train_opt['dataroot_gt'],
                                          'meta_info_file': args.eval_meta, 'io_backend': {'type': 'disk'},
                                          'gt_size': train_opt.get('gt_size', 112), 'scale': opt['scale']})
        norms, values = gradient_norms(model, batches)
        entry: dict[str, Any] = {'grad': norms, 'train': values}
        logger.info('iter %s: gradient norms %s', it, ', '.join(f'{k} {v:.4g}' for k, v in norms.items()))
        logger.info('iter %s: values, training batches %s', it, ', '.join(f'{k} {v:.4g}' for k, v in values.items()))
        if held_out is not None:
            entry['eval'] = term_values(model, held_out, args.batch_size)
            logger.info('iter %s: values, %s %s', it, args.eval_meta,
                        ', '.join(f'{k} {v:.4g}' for k, v in entry['eval'].items()))
        result['iters'][it] = entry
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    main()
