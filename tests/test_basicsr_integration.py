"""Activation through every entry point, BasicSR's own trainer on CPU, resume, and BasicSR's GAN models."""
from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from copy import deepcopy

import pytest
import torch
import yaml

from tests.conftest import REPO, write_faces

PY = sys.executable
TINY_G = {'type': 'DSNet', 'num_feat': 8, 'num_block': 2, 'num_layer': 3, 'growth': 4, 'num_bottleneck': 8,
          'upscale': 4}


def tiny_train_opt(root: str, name: str, total_iter: int = 4, val_freq: int = 2, ckpt: int = 2) -> dict:
    """A tiny SRModel + DSNet training option dict on the synthetic faces under ``root``."""
    ds = {'type': 'FaceSRDataset', 'dataroot_gt': root, 'io_backend': {'type': 'disk'}, 'gt_size': 32}
    return {
        'name': name, 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': {**ds, 'name': 'train', 'use_hflip': True, 'num_worker_per_gpu': 0, 'batch_size_per_gpu': 4,
                      'dataset_enlarge_ratio': 1, 'prefetch_mode': None},
            'val': {**ds, 'name': 'val'},
        },
        'network_g': dict(TINY_G),
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {'ema_decay': 0, 'optim_g': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
                  'scheduler': {'type': 'MultiStepLR', 'milestones': [1000000], 'gamma': 0.5},
                  'total_iter': total_iter, 'warmup_iter': -1,
                  'pixel_opt': {'type': 'MSELoss', 'loss_weight': 1.0, 'reduction': 'mean'}},
        'val': {'val_freq': val_freq, 'save_img': False,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False},
                            'ssim': {'type': 'calculate_ssim', 'crop_border': 0, 'test_y_channel': False}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': ckpt, 'use_tb_logger': False,
                   'wandb': {'project': None, 'resume_id': None}},
    }


def write_opt(path: str, opt: dict) -> str:
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    return path


def run(cmd: list[str], cwd: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert res.returncode == 0, f'{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}'
    return res


def train_log(cwd: str, name: str) -> str:
    logs = sorted(glob.glob(os.path.join(cwd, 'experiments', name, f'train_{name}_*.log')))
    assert logs, f'no training log under {cwd}/experiments/{name}'
    return '\n'.join(open(p).read() for p in logs)


def basicsr_site() -> str:
    spec = importlib.util.find_spec('basicsr')
    return os.path.dirname(os.path.dirname(spec.origin))


@pytest.fixture()
def workdir(tmp_path) -> str:  # noqa: ANN001
    write_faces(str(tmp_path / 'faces'), 12, size=32)
    return str(tmp_path)


def test_python_c_pass_imports_neither_torch_nor_basicsr() -> None:
    code = ("import sys; mods = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'basicsr', "
            "'fhgan_plugin', 'numpy')); print(mods); print('fhgan_plugin_autoload' in sys.modules)")
    out = subprocess.run([PY, '-c', code], capture_output=True, text=True, check=True).stdout.split('\n')
    assert out[0] == '[]'
    assert out[1] == 'True', 'the .pth hook is not installed: pip install -e . (see README)'
    times = []
    for _ in range(5):
        err = subprocess.run([PY, '-X', 'importtime', '-c', 'pass'], capture_output=True, text=True).stderr
        line = [ln for ln in err.splitlines() if ln.rstrip().endswith('fhgan_plugin_autoload')]
        times.append(int(line[0].split('|')[1]))  # cumulative microseconds
    assert min(times) < 2000, times


def test_importing_basicsr_registers_the_plugin() -> None:
    code = ('import basicsr; from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY; '
            "print('DSNet' in ARCH_REGISTRY, 'FaceSRDataset' in DATASET_REGISTRY)")
    res = subprocess.run([PY, '-c', code], capture_output=True, text=True, cwd='/')
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == 'True True'


def test_double_import_does_not_trip_the_registry() -> None:
    from basicsr.utils.registry import ARCH_REGISTRY

    import fhgan_plugin.archs.dsnet_arch as mod
    original = mod.DSNet
    importlib.reload(mod)  # re-executes the @register_arch decorator
    assert ARCH_REGISTRY.get('DSNet') is original
    spec = importlib.util.spec_from_file_location('dsnet_arch', mod.__file__)  # the file under another name
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    from fhgan_plugin.registry import register_arch
    with pytest.raises(KeyError, match='already holds'):
        register_arch(type('DSNet', (), {'__module__': 'someone_else.archs'}))
    assert ARCH_REGISTRY.get('DSNet') is original
    mod.DSNet = original  # keep fhgan_plugin.archs.dsnet_arch.DSNet the registered class for later tests


def test_module_basicsr_train_on_cpu_with_validation(workdir: str) -> None:
    opt = write_opt(os.path.join(workdir, 'tiny.yml'), tiny_train_opt(os.path.join(workdir, 'faces'), 'tiny_m'))
    run([PY, '-m', 'basicsr.train', '-opt', opt], cwd=workdir)
    log = train_log(workdir, 'tiny_m')
    assert 'Network [DSNet] is created' in log and 'Dataset [FaceSRDataset]' in log
    psnr = [float(v) for v in re.findall(r'# psnr: ([\d.]+)', log)]
    ssim = [float(v) for v in re.findall(r'# ssim: ([\d.]+)', log)]
    assert len(psnr) >= 2 and all(5 < p < 60 for p in psnr) and all(0 < s <= 1 for s in ssim)
    assert os.path.isfile(os.path.join(workdir, 'experiments', 'tiny_m', 'models', 'net_g_latest.pth'))
    assert not os.path.exists(os.path.join(basicsr_site(), 'experiments', 'tiny_m'))
    assert not os.path.exists(os.path.join(basicsr_site(), 'tb_logger', 'tiny_m'))
    from scripts.collect_validation import collect
    hist = collect(os.path.join(workdir, 'experiments', 'tiny_m'))
    assert [v['iter'] for v in hist['validations']] == [2, 4, 4]  # val_freq 2, and the final validation
    assert [v['psnr'] for v in hist['validations']] == pytest.approx(psnr, abs=1e-4)
    assert hist['last_iter'] == 4 and hist['runs'][0]['finished'] and not hist['runs'][0]['resumed']
    # BasicSR's test pipeline through the plugin's test.py, on the weights just trained
    test_opt = {
        'name': 'tiny_test', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'test_1': {'name': 'faces', 'type': 'FaceSRDataset', 'dataroot_gt': os.path.join(workdir, 'faces'),
                                'io_backend': {'type': 'disk'}}},
        'network_g': dict(TINY_G),
        'path': {'pretrain_network_g': os.path.join(workdir, 'experiments', 'tiny_m', 'models', 'net_g_latest.pth'),
                 'strict_load_g': True, 'param_key_g': 'params'},
        'val': {'save_img': True, 'suffix': None,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}}},
    }
    run([PY, os.path.join(REPO, 'fhgan_plugin', 'test.py'), '-opt',
         write_opt(os.path.join(workdir, 'test.yml'), test_opt)], cwd=workdir)
    test_logs = glob.glob(os.path.join(workdir, 'results', 'tiny_test', 'test_tiny_test_*.log'))
    assert test_logs and re.search(r'# psnr: [\d.]+', open(test_logs[0]).read())
    assert len(glob.glob(os.path.join(workdir, 'results', 'tiny_test', 'visualization', 'faces', '*.png'))) == 12


def _interrupt_after_first_state(cmd: list[str], cwd: str, name: str) -> int:
    states = os.path.join(cwd, 'experiments', name, 'training_states')
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not glob.glob(os.path.join(states, '*.state')):
            assert proc.poll() is None, 'training ended before saving a state'
            time.sleep(0.05)
        # no grace period: checkpoints are written to <file>.tmp and renamed, so a visible state is complete
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    iters = sorted(int(os.path.basename(p).split('.')[0]) for p in glob.glob(os.path.join(states, '*.state')))
    assert iters, 'no training state was saved before the interruption'
    return iters[-1]


@pytest.mark.parametrize('entry', ['plugin_train_py', 'module_basicsr_train'])
def test_interrupted_run_resumes_on_cpu(workdir: str, entry: str) -> None:
    name = f'resume_{entry}'
    opt = tiny_train_opt(os.path.join(workdir, 'faces'), name, total_iter=100000, val_freq=10**9, ckpt=5)
    path = write_opt(os.path.join(workdir, f'{name}.yml'), opt)
    prefix = [PY, os.path.join(REPO, 'fhgan_plugin', 'train.py')] if entry == 'plugin_train_py' else [
        PY, '-m', 'basicsr.train']
    last = _interrupt_after_first_state(prefix + ['-opt', path], workdir, name)
    total = last + 3
    run(prefix + ['-opt', path, '--auto_resume', '--force_yml', f'train:total_iter={total}'], cwd=workdir)
    log = train_log(workdir, name)
    assert re.search(rf'Resuming training from epoch: \d+, iter: {last}\.', log), log[-2000:]
    assert 'fhgan_plugin: resuming from' in log and f'(iter {last})' in log  # the plugin's messages reach the run's log
    after = log.split('Resuming training')[-1]
    logged = [int(v) for v in re.findall(r'iter:\s+(\d+),', after)]
    assert logged[0] == last + 1 and logged[-1] == total
    state = torch.load(os.path.join(workdir, 'experiments', name, 'models', 'net_g_latest.pth'), weights_only=True)
    assert all(torch.isfinite(v).all() for v in state['params'].values())


def test_resume_state_path_option(workdir: str) -> None:
    name = 'resume_path'
    base = tiny_train_opt(os.path.join(workdir, 'faces'), name, total_iter=4, val_freq=10**9, ckpt=2)
    run([PY, '-m', 'basicsr.train', '-opt', write_opt(os.path.join(workdir, 'a.yml'), base)], cwd=workdir)
    state = os.path.join(workdir, 'experiments', name, 'training_states', '2.state')
    assert os.path.isfile(state)
    opt = deepcopy(base)
    opt['train']['total_iter'] = 6
    opt['path']['resume_state'] = state
    run([PY, os.path.join(REPO, 'fhgan_plugin', 'train.py'), '-opt', write_opt(os.path.join(workdir, 'b.yml'), opt)],
        cwd=workdir)
    log = train_log(workdir, name)
    assert 'Resuming training from epoch: 0, iter: 2.' in log


def _gan_opt(model_type: str) -> dict:
    opt = tiny_train_opt('unused', 'gan', total_iter=1)
    opt.update(model_type=model_type, is_train=True, dist=False, rank=0, world_size=1, auto_resume=False)
    opt['network_d'] = {'type': 'VGGStyleDiscriminator', 'num_in_ch': 3, 'num_feat': 4, 'input_size': 128}
    opt['path'].update(pretrain_network_d=None, models='/nonexistent', training_states='/nonexistent')
    opt['train'].update(
        optim_d={'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
        gan_opt={'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 5e-3},
        net_d_iters=1, net_d_init_iters=0)
    opt['train']['scheduler'] = {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5}
    return opt


@pytest.mark.parametrize('model_type', ['SRGANModel', 'ESRGANModel'])
def test_dsnet_as_generator_of_basicsr_gan_models(model_type: str) -> None:
    from basicsr.models import build_model
    torch.manual_seed(0)
    model = build_model(_gan_opt(model_type))
    assert type(model.net_g).__name__ == 'DSNet'
    before = [p.detach().clone() for p in model.net_g.parameters()]
    model.feed_data({'lq': torch.rand(2, 3, 32, 32), 'gt': torch.rand(2, 3, 128, 128)})
    model.optimize_parameters(1)
    log = model.get_current_log()
    for key in ('l_g_pix', 'l_g_gan', 'l_d_real', 'l_d_fake', 'out_d_real', 'out_d_fake'):
        assert key in log and torch.isfinite(torch.as_tensor(log[key])), key
    assert any(not torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))


def test_fhcritic_as_network_d_of_srgan_with_wgan_loss() -> None:
    from basicsr.models import build_model
    torch.manual_seed(0)
    opt = _gan_opt('SRGANModel')
    opt['network_d'] = {'type': 'FHCritic', 'num_in_ch': 3, 'num_feat': 8, 'input_size': 128}
    opt['train']['gan_opt'] = {'type': 'GANLoss', 'gan_type': 'wgan', 'loss_weight': 1e-2}
    model = build_model(opt)
    assert type(model.net_d).__name__ == 'FHCritic'
    d_before = [p.detach().clone() for p in model.net_d.parameters()]
    model.feed_data({'lq': torch.rand(2, 3, 32, 32), 'gt': torch.rand(2, 3, 128, 128)})
    model.optimize_parameters(1)
    log = model.get_current_log()
    for key in ('l_g_gan', 'l_d_real', 'l_d_fake', 'out_d_real', 'out_d_fake'):
        assert key in log and torch.isfinite(torch.as_tensor(log[key])), key
    # wgan: l_d_real = -E[D(real)], l_d_fake = E[D(fake)]
    assert log['l_d_real'] == pytest.approx(-log['out_d_real'], rel=1e-4, abs=1e-6)
    assert log['l_d_fake'] == pytest.approx(log['out_d_fake'], rel=1e-4, abs=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.net_d.parameters()))
