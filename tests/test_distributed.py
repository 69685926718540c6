"""BasicSR's --launcher pytorch on CPU: 2 gloo processes train the joint model and stay in sync."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import torch
import yaml

from tests.conftest import REPO, write_faces
from tests.test_basicsr_integration import tiny_train_opt
from tests.test_models import TINY_FR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_gloo_joint_training_keeps_ranks_identical(tmp_path) -> None:  # noqa: ANN001
    out = str(tmp_path)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
           '--master_port', str(_free_port()), os.path.join(REPO, 'tests', 'dist_worker.py'), out]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    r0 = torch.load(os.path.join(out, 'rank0.pt'), weights_only=False)
    r1 = torch.load(os.path.join(out, 'rank1.pt'), weights_only=False)
    assert set(r0['types'].values()) == {'DistributedDataParallel'}
    for name in ('net_g', 'net_d', 'net_fr', 'net_head'):
        assert r0[name].keys() == r1[name].keys()
        for k in r0[name]:
            assert torch.equal(r0[name][k], r1[name][k]), f'{name}.{k} differs across ranks'
    for key in ('l_d_wgan_gp', 'l_g_total', 'l_fr_arcface'):
        assert key in r0['log'] and torch.isfinite(torch.tensor(r0['log'][key]))


def test_basicsr_trainer_launcher_pytorch_two_cpu_processes(tmp_path) -> None:  # noqa: ANN001
    """The real entry point: torch.distributed.run + python -m basicsr.train --launcher pytorch."""
    root = str(tmp_path / 'faces')
    rels = write_faces(root, 12, size=32)
    labels = tmp_path / 'labels.txt'
    labels.write_text(''.join(f'{r} {int(r[2])}\n' for r in rels))
    opt = tiny_train_opt(root, 'dist_joint', total_iter=4, val_freq=4, ckpt=4)
    opt['model_type'] = 'FHGANModel'
    opt['datasets']['train'].update(type='FaceIdentityDataset', label_file=str(labels), batch_size_per_gpu=2)
    opt['network_d'] = {'type': 'FHCritic', 'num_feat': 8, 'num_down': 3, 'input_size': 32}
    opt['network_fr'] = dict(TINY_FR)
    opt['network_head'] = {'type': 'ArcMarginHead', 'embedding_size': 16, 'num_classes': 3}
    opt['train'].update(optim_d={'type': 'Adam', 'lr': 1e-4, 'betas': [0.5, 0.9]},
                        optim_fr={'type': 'SGD', 'lr': 1e-3, 'momentum': 0.9},
                        gan_opt={'type': 'WGANGPLoss', 'loss_weight': 1e-3},
                        identity_opt={'type': 'IdentityLoss', 'loss_weight': 0.1},
                        arcface_opt={'type': 'ArcFaceLoss'})
    path = tmp_path / 'dist.yml'
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
           '--master_port', str(_free_port()), '-m', 'basicsr.train', '-opt', str(path), '--launcher', 'pytorch']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    log = open(next((tmp_path / 'experiments' / 'dist_joint').glob('train_dist_joint_*.log'))).read()
    assert 'World size (gpu number): 2' in log and 'iter:       4' in log and 'l_fr_arcface' in log
    for label in ('g', 'd', 'fr', 'head'):
        assert (tmp_path / 'experiments' / 'dist_joint' / 'models' / f'net_{label}_4.pth').is_file()
