"""The runtime patches of fhgan_plugin.compat: atomic checkpoints and resuming past a truncated state."""
from __future__ import annotations

import logging
import os
from typing import Any

import pytest
import torch
from basicsr.models.base_model import BaseModel
from torch import nn

import fhgan_plugin.compat as compat
from fhgan_plugin.errors import WriteError


class _Saver:
    """The two attributes BasicSR's ``save_network`` / ``save_training_state`` read."""

    def __init__(self, root: str) -> None:
        self.opt = {'path': {'models': root, 'training_states': root}}
        self.optimizers: list = []
        self.schedulers: list = []

    def get_bare_model(self, net: nn.Module) -> nn.Module:
        return net


def test_save_network_is_atomic(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    saver, net = _Saver(str(tmp_path)), nn.Linear(3, 2)
    BaseModel.save_network(saver, net, 'net_g', 5)
    target = tmp_path / 'net_g_5.pth'
    good = target.read_bytes()
    seen: dict[str, Any] = {}
    real_save = torch.save

    def dies_half_way(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        f.write(good[:10])  # a truncated file, as a kill during the write leaves it
        seen['path'], seen['target_during_write'] = f.name, target.read_bytes()
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(torch, 'save', dies_half_way)
    monkeypatch.setattr(compat.time, 'sleep', lambda s: None)
    with torch.no_grad():
        net.weight.add_(1.0)
    with pytest.raises(WriteError, match='net_g_5.pth'):  # retried, then a failure (BasicSR ignored it)
        BaseModel.save_network(saver, net, 'net_g', 5)
    assert seen['path'] == f'{target}.tmp'
    assert seen['target_during_write'] == good
    assert target.read_bytes() == good, 'a failed save must leave the previous checkpoint intact'
    assert sorted(os.listdir(tmp_path)) == ['net_g_5.pth'], 'no .tmp file may be left behind'

    monkeypatch.setattr(torch, 'save', real_save)
    BaseModel.save_network(saver, net, 'net_g', 5)
    loaded = torch.load(target, weights_only=True)['params']
    assert torch.equal(loaded['weight'], net.weight)


def test_auto_resume_skips_a_truncated_newest_state(tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    states = tmp_path / 'training_states'
    states.mkdir()
    saver = _Saver(str(states))
    BaseModel.save_training_state(saver, 1, 4)
    BaseModel.save_training_state(saver, 2, 8)
    (states / '8.state').write_bytes((states / '8.state').read_bytes()[:7])  # killed mid-write (old writer)
    opt = {'name': 'x', 'auto_resume': True, 'num_gpu': 0, 'path': {'training_states': str(states)}}
    log = compat._log().current()
    log.addHandler(caplog.handler)
    with caplog.at_level(logging.WARNING):
        state = compat.load_resume_state(opt)
    log.removeHandler(caplog.handler)
    assert state is not None and state['iter'] == 4 and state['epoch'] == 1
    assert opt['path']['resume_state'] == str(states / '4.state')
    assert 'cannot resume from iteration 8' in caplog.text and '8.state is truncated' in caplog.text


def test_auto_resume_without_states_starts_fresh(tmp_path) -> None:  # noqa: ANN001
    opt = {'name': 'x', 'auto_resume': True, 'num_gpu': 0, 'path': {'training_states': str(tmp_path / 'none')}}
    assert compat.load_resume_state(opt) is None
    assert 'resume_state' not in opt['path']


def test_explicit_missing_resume_state_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    opt = {'name': 'x', 'num_gpu': 0, 'path': {'resume_state': str(tmp_path / '12.state')}}
    with pytest.raises(FileNotFoundError, match='12.state does not exist'):
        compat.load_resume_state(opt)


def _batches(sampler: Any, epoch: int, batch_size: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(list(range(20)), batch_size=batch_size, sampler=sampler, drop_last=True)
    return [b.tolist() for b in loader]


def test_resumed_run_continues_the_epoch_instead_of_replaying_it() -> None:
    from basicsr.data.data_sampler import EnlargedSampler
    data, bs = list(range(20)), 3  # 6 iterations per epoch (the last 2 samples are dropped)
    uninterrupted = [b for epoch in (0, 1) for b in _batches(EnlargedSampler(data, 1, 0), epoch, bs)]
    assert len(uninterrupted) == 12 and len({tuple(b) for b in uninterrupted[:6]}) == 6

    for stop in (4, 6, 8):  # inside epoch 0, exactly at its end, inside epoch 1
        epoch = stop // 6 if stop % 6 else stop // 6 - 1  # BasicSR saves with the epoch it is in
        compat.set_resume_position(epoch, stop, bs)
        resumed = [b for e in range(epoch, 2) for b in _batches(EnlargedSampler(data, 1, 0), e, bs)]
        assert resumed == uninterrupted[stop:], f'resume at iteration {stop} must see the remaining batches'

    # no recorded position (a fresh run): whole epochs, and the skip never leaks into a later epoch
    fresh = EnlargedSampler(data, 1, 0)
    assert _batches(fresh, 0, bs) == uninterrupted[:6] and _batches(fresh, 1, bs) == uninterrupted[6:]


def test_load_resume_state_records_the_position_for_the_sampler(tmp_path) -> None:  # noqa: ANN001
    states = tmp_path / 'training_states'
    states.mkdir()
    torch.save({'epoch': 0, 'iter': 600, 'optimizers': [], 'schedulers': []}, states / '600.state')
    opt = {'name': 'x', 'auto_resume': True, 'num_gpu': 0, 'path': {'training_states': str(states)},
           'datasets': {'train': {'batch_size_per_gpu': 8}}}
    assert compat.load_resume_state(opt)['iter'] == 600
    assert compat._RESUME_POSITION == {'epoch': 0, 'iter': 600, 'batch_size': 8}
    compat._RESUME_POSITION.clear()


def test_force_yml_manual_seed_is_the_seed_used(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """BasicSR seeds before applying --force_yml; the patched parse_options seeds with the final value."""
    import basicsr.utils.options

    yml = tmp_path / 'tiny.yml'
    yml.write_text('name: seed_check\nmodel_type: SRModel\nscale: 4\nnum_gpu: 0\nmanual_seed: 0\n'
                   'datasets: {}\npath: {}\n')

    def first_draw(*force: str) -> tuple[int, float]:
        argv = ['train.py', '-opt', str(yml)] + (['--force_yml', *force] if force else [])
        monkeypatch.setattr('sys.argv', argv)
        opt, _ = basicsr.utils.options.parse_options(str(tmp_path), is_train=False)
        return opt['manual_seed'], torch.rand(1).item()

    assert getattr(basicsr.utils.options.parse_options, compat._PATCHED_ATTR, False)
    seed0, draw0 = first_draw()
    seed1, draw1 = first_draw('manual_seed=1')
    torch.manual_seed(1)
    assert (seed0, seed1) == (0, 1) and draw1 == torch.rand(1).item() != draw0
    torch.manual_seed(0)
    assert draw0 == torch.rand(1).item()  # without an override: the same state BasicSR had set
