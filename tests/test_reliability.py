"""Nothing lost, nothing run, nothing stale: checked writes, safe loading, content-keyed caches, exit codes.

Each test reproduces one failure a hostile-but-fair user met with the earlier code (it fails there) and
asserts the behaviour now promised in README "Reliability".
"""
from __future__ import annotations

import errno
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

import fhgan_plugin.compat as compat
from fhgan_plugin.archs import DSNet
from fhgan_plugin.errors import CheckpointError, InputError, OptionError, WriteError
from fhgan_plugin.evaluation.cli import main as evaluate_main
from fhgan_plugin.evaluation.methods import parse_method
from fhgan_plugin.evaluation.runner import Evaluator, load_test_set
from fhgan_plugin.inference import MemoryPlan, _sr, hallucinate, hallucinate_aligned, load_generator, main, tiled_sr
from fhgan_plugin.utils.checkpoint import read_checkpoint
from fhgan_plugin.utils.cli import run_cli
from fhgan_plugin.utils.io import DigestCache, read_rgb, save_torch, write_image
from tests.conftest import REPO, write_faces
from tests.test_basicsr_integration import tiny_train_opt, write_opt

PY = sys.executable


class Payload:
    """A pickle that runs ``touch <marker>`` when it is unpickled by an unsafe loader."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f'touch {self.marker}',))


def _log_into(caplog: pytest.LogCaptureFixture) -> None:
    """Let caplog see compat's logger (BasicSR's, once set up, does not propagate)."""
    log = compat._log().current()
    if caplog.handler not in log.handlers:
        log.addHandler(caplog.handler)


# ------------------------------------------------------------------ 1. every write is checked
def _dev_full(path: str) -> None:
    """Make writes to ``path`` hit a full disk for real: its temporary file is a link to /dev/full (ENOSPC)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink('/dev/full', path + '.tmp')


@pytest.mark.skipif(not os.path.exists('/dev/full'), reason='needs /dev/full (Linux)')
def test_write_image_on_a_full_disk_raises_and_leaves_nothing(tmp_path) -> None:  # noqa: ANN001
    dst = str(tmp_path / 'out' / 'a.png')
    _dev_full(dst)
    with pytest.raises(WriteError, match='a.png') as info:
        write_image(dst, np.zeros((8, 8, 3), np.uint8))
    assert info.value.errno == errno.ENOSPC and info.value.path == dst
    assert os.listdir(tmp_path / 'out') == [], 'neither the output nor its temporary file may remain'


@pytest.mark.skipif(not os.path.exists('/dev/full'), reason='needs /dev/full (Linux)')
def test_failed_writes_are_counted_named_and_stop_after_a_full_disk(tmp_path, cpu_weights: str,  # noqa: ANN001
                                                                   capsys: pytest.CaptureFixture) -> None:
    rels = sorted(write_faces(str(tmp_path / 'lr'), 4, size=28))  # the order they are processed in
    out = tmp_path / 'sr'
    _dev_full(str(out / rels[1]))  # the second output hits a full disk: nothing after it is tried
    report = hallucinate(str(tmp_path / 'lr'), str(out), cpu_weights, batch_size=2)
    on_disk = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert on_disk == [rels[0]], 'only the first face was written'
    assert [os.path.relpath(p, out) for p in report.written] == [rels[0]] and report.faces == 1
    assert [os.path.relpath(p, out) for p, _ in report.failed] == rels[1:]
    assert 'No space left' in report.failed[0][1] and report.failed[2][1].startswith('not written')
    _dev_full(str(tmp_path / 'sr2' / rels[0]))
    code = run_cli(main, 'fhgan-hallucinate', [str(tmp_path / 'lr'), '-o', str(tmp_path / 'sr2'),
                                                '--weights', cpu_weights], status=lambda s: 1 if s['failed'] else 0)
    assert code == 1


def _unshare_mount_works() -> bool:
    if not shutil.which('unshare') or os.geteuid() != 0:
        return False
    return subprocess.run(['unshare', '-m', 'sh', '-c', 'mount -t tmpfs tmpfs /mnt'],
                          capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isfile(os.path.join(os.path.dirname(PY), 'fhgan-hallucinate')),
                    reason='the fhgan-hallucinate console script is not installed beside this python')
@pytest.mark.skipif(not _unshare_mount_works(), reason='needs root and mount namespaces (unshare -m)')
@pytest.mark.parametrize('mount', ['ro', 'size=8k'])
def test_cli_into_a_read_only_or_full_folder_exits_non_zero(tmp_path, cpu_weights: str, mount: str) -> None:  # noqa: ANN001
    """The real kernel errors (EROFS, ENOSPC) on a private tmpfs mount, through the console script."""
    write_faces(str(tmp_path / 'lr'), 4, size=28)
    out = tmp_path / 'out'
    out.mkdir()
    cli = os.path.join(os.path.dirname(PY), 'fhgan-hallucinate')
    script = (f'mount -t tmpfs -o {mount} tmpfs {out} && {cli} {tmp_path / "lr"} '
              f'-o {out} --weights {cpu_weights}; code=$?; ls -R {out}; exit $code')
    res = subprocess.run(['unshare', '-m', 'sh', '-c', script], capture_output=True, text=True, timeout=300,
                         cwd=REPO)
    assert res.returncode == 1, res.stderr[-3000:]
    assert f'failed: {out}/id' in res.stderr and ('Read-only' in res.stderr or 'No space left' in res.stderr)
    listed = [ln for ln in res.stdout.split() if ln.endswith('.png')]
    failed = res.stderr.count('  failed: ')
    assert failed >= 1 and failed + len(listed) == 4, 'every face is either on disk or named as failed'
    if mount == 'ro':
        assert listed == [] and failed == 4


def test_colliding_outputs_are_refused_before_any_work(tmp_path, cpu_weights: str,  # noqa: ANN001
                                                       capsys: pytest.CaptureFixture) -> None:
    (tmp_path / 'lr').mkdir()
    img = np.full((28, 28, 3), 100, np.uint8)
    cv2.imwrite(str(tmp_path / 'lr' / 'a.jpg'), img)
    cv2.imwrite(str(tmp_path / 'lr' / 'a.png'), img)
    with pytest.raises(InputError, match="'a.jpg' and 'a.png' would both be written"):
        hallucinate(str(tmp_path / 'lr'), str(tmp_path / 'sr'), cpu_weights)
    assert not (tmp_path / 'sr').exists(), 'nothing may be created before the refusal'
    code = run_cli(main, 'fhgan-hallucinate', [str(tmp_path / 'lr'), '-o', str(tmp_path / 'sr'),
                                                '--weights', cpu_weights])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith('fhgan-hallucinate: error: inputs')


def test_output_folder_equal_to_or_inside_the_input_is_refused(tmp_path, cpu_weights: str) -> None:  # noqa: ANN001
    rels = write_faces(str(tmp_path / 'lr'), 2, size=28)
    before = {r: (tmp_path / 'lr' / r).read_bytes() for r in rels}
    for out in (tmp_path / 'lr', tmp_path / 'lr' / 'id0'):
        with pytest.raises(InputError, match='inside it'):
            hallucinate(str(tmp_path / 'lr'), str(out), cpu_weights)
    assert {r: (tmp_path / 'lr' / r).read_bytes() for r in rels} == before, 'the LR inputs are untouched'
    (tmp_path / 'file').write_text('x')
    with pytest.raises(InputError, match='not a folder'):
        hallucinate(str(tmp_path / 'lr'), str(tmp_path / 'file'), cpu_weights)


def test_photo_mode_refuses_inputs_its_face_crops_would_overwrite(tmp_path, cpu_weights: str) -> None:  # noqa: ANN001
    (tmp_path / 'in').mkdir()
    for name in ('a.png', 'a_face0.jpg'):
        cv2.imwrite(str(tmp_path / 'in' / name), np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(InputError, match="'a_face0.jpg' would be overwritten by face crop 0 of 'a.png'"):
        hallucinate(str(tmp_path / 'in'), str(tmp_path / 'out'), cpu_weights, mode='photo')


def test_cli_exits_non_zero_when_every_input_failed(tmp_path, cpu_weights: str,  # noqa: ANN001
                                                    capsys: pytest.CaptureFixture) -> None:
    (tmp_path / 'lr').mkdir()
    (tmp_path / 'lr' / 'a.png').write_bytes(b'not a png')
    (tmp_path / 'lr' / 'b.jpg').write_bytes(b'')
    code = run_cli(main, 'fhgan-hallucinate', [str(tmp_path / 'lr'), '-o', str(tmp_path / 'sr'),
                                                '--weights', cpu_weights], status=lambda s: 1 if s['failed'] else 0)
    assert code == 1 and os.listdir(tmp_path / 'sr') == []


def test_truncated_jpeg_is_a_failure_not_a_grey_face(tmp_path, cpu_weights: str) -> None:  # noqa: ANN001
    from skimage import data
    ok, buf = cv2.imencode('.jpg', cv2.resize(data.astronaut()[..., ::-1], (112, 112)))
    (tmp_path / 'lr').mkdir()
    (tmp_path / 'lr' / 'whole.jpg').write_bytes(buf.tobytes())
    (tmp_path / 'lr' / 'cut.jpg').write_bytes(buf.tobytes()[:len(buf) * 6 // 10])
    with pytest.raises(InputError, match='cut.jpg.*truncated'):
        read_rgb(str(tmp_path / 'lr' / 'cut.jpg'))
    report = hallucinate(str(tmp_path / 'lr'), str(tmp_path / 'sr'), cpu_weights)
    assert [os.path.basename(p) for p in report.written] == ['whole.png']
    assert [(r, 'truncated' in why) for r, why in report.failed] == [('cut.jpg', True)]


# ------------------------------------------------------------------ 5. bounded memory: large inputs are tiled
def test_large_input_is_tiled_with_the_same_result(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    net = DSNet.from_config('cpu', back_projection=5).eval()
    lq = torch.rand(1, 3, 150, 130)
    whole = _sr(net, lq)
    assert torch.allclose(tiled_sr(net, lq, tile=40, pad=64), whole, atol=1e-5), 'tiles are exact with pad 64'
    plan = MemoryPlan.for_net(net, budget_gb=2.0)  # ~100k px per pass
    assert plan.images_per_pass(28, 28, 64) == 64 and plan.images_per_pass(400, 400, 64) == 0
    plan = MemoryPlan(max_pixels=5000, tile=40, pad=64)  # a 150x130 image does not fit in one pass
    torch.save({'params': net.state_dict()}, tmp_path / 'w.pth')
    img = (lq[0].permute(1, 2, 0).numpy()[..., ::-1] * 255).round().astype(np.uint8)
    (tmp_path / 'lr').mkdir()
    cv2.imwrite(str(tmp_path / 'lr' / 'big.png'), img)
    report = hallucinate_aligned(load_generator(str(tmp_path / 'w.pth'), {'type': 'DSNet', 'num_feat': 32,
                                                                         'num_block': 4, 'num_layer': 4,
                                                                         'growth': 16, 'num_bottleneck': 32,
                                                                         'back_projection': 5}),
                                 str(tmp_path / 'lr'), ['big.png'], str(tmp_path / 'sr'), memory=plan)
    assert report.failed == [] and cv2.imread(str(tmp_path / 'sr' / 'big.png')).shape == (600, 520, 3)
    with pytest.raises(InputError, match='--max-memory'):
        MemoryPlan.for_net(net, budget_gb=1e-4)


# ------------------------------------------------------------------ 2. nothing in a file runs
def test_planted_training_state_runs_no_code(tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    states = tmp_path / 'training_states'
    states.mkdir()
    marker = tmp_path / 'PWNED'
    torch.save({'epoch': 0, 'iter': 8, 'optimizers': [], 'schedulers': [], 'x': Payload(str(marker))},
               states / '8.state')
    torch.save({'epoch': 0, 'iter': 4, 'optimizers': [], 'schedulers': []}, states / '4.state')
    opt = {'name': 'x', 'auto_resume': True, 'num_gpu': 0, 'path': {'training_states': str(states)}}
    _log_into(caplog)
    with caplog.at_level(logging.WARNING):
        state = compat.load_resume_state(opt)
    assert not marker.exists(), 'the payload ran'
    assert state['iter'] == 4 and '8.state holds Python objects other than tensors' in caplog.text
    with pytest.raises(CheckpointError, match='could run code'):
        compat.load_resume_state({'name': 'x', 'num_gpu': 0, 'path': {'resume_state': str(states / '8.state')}})
    assert not marker.exists()


def test_planted_evaluation_cache_runs_no_code_and_is_recomputed(tmp_path, cpu_weights: str,  # noqa: ANN001
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    write_faces(str(tmp_path / 'faces'), 4, size=32)
    ts = load_test_set(str(tmp_path / 'faces'))
    ev = Evaluator(cache_dir=str(tmp_path / 'cache'), batch_size=4)
    m = parse_method('bicubic')
    true = ev.run_method(m, ts)
    marker = tmp_path / 'PWNED'
    path = ev.cache_path(m, ts)
    torch.save({'psnr': Payload(str(marker)), 'ssim': None, 'lpips': None, 'emb': None, 'seconds': 0.0}, path)
    with caplog.at_level(logging.WARNING, logger='fhgan_plugin'):
        again = ev.run_method(m, ts)
    assert not marker.exists(), 'the payload ran'
    assert not again.cached and np.array_equal(again.psnr, true.psnr)
    assert 'ignoring cache file' in caplog.text and os.path.basename(path) in caplog.text
    assert ev.run_method(m, ts).cached, 'the recomputed result replaced the planted file'


def test_option_file_with_a_python_tag_runs_no_code(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import basicsr.utils.options
    marker = tmp_path / 'PWNED'
    yml = tmp_path / 'evil.yml'
    yml.write_text(f'name: evil\nmodel_type: SRModel\nscale: 4\nnum_gpu: 0\nmanual_seed: 0\ndatasets: {{}}\n'
                   f'path: {{}}\nx: !!python/object/apply:os.system ["touch {marker}"]\n')
    monkeypatch.setattr('sys.argv', ['train.py', '-opt', str(yml)])
    with pytest.raises(yaml.YAMLError, match='python/object/apply'):
        basicsr.utils.options.parse_options(str(tmp_path), is_train=False)
    assert not marker.exists(), 'the YAML tag ran'
    # BasicSR's own conventions still load: !!float, ordered mappings
    loader, _ = basicsr.utils.options.ordered_yaml()
    opt = yaml.load('b: !!float 1e-4\na: {y: 1, x: 2}\n', Loader=loader)
    assert opt['b'] == 1e-4 and list(opt) == ['b', 'a'] and list(opt['a']) == ['y', 'x']


@pytest.mark.parametrize('content', [b'', os.urandom(512), 'truncated', 'payload'])
def test_unreadable_or_unsafe_checkpoints_name_the_file(tmp_path, content) -> None:  # noqa: ANN001
    path = tmp_path / 'net_g.pth'
    if content == 'truncated':
        torch.save({'params': DSNet.from_config('cpu').state_dict()}, path)
        path.write_bytes(path.read_bytes()[:5000])
    elif content == 'payload':
        torch.save({'params': Payload(str(tmp_path / 'PWNED'))}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f'{path}.*(empty|truncated|not a PyTorch file|could run code)'):
        read_checkpoint(str(path))
    with pytest.raises(CheckpointError, match=str(path)):
        load_generator(str(path))
    assert not (tmp_path / 'PWNED').exists()


# ------------------------------------------------------------------ 3. no stale results
def test_test_set_key_follows_image_content(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    rels = write_faces(str(tmp_path / 'a'), 4, size=32)
    shutil.copytree(tmp_path / 'a', tmp_path / 'b')
    key_a = load_test_set(str(tmp_path / 'a')).key
    assert load_test_set(str(tmp_path / 'b')).key == key_a, 'same files, same key'
    img = cv2.imread(str(tmp_path / 'b' / rels[0]))
    cv2.imwrite(str(tmp_path / 'b' / rels[0]), 255 - img)  # changed in place, same name
    assert load_test_set(str(tmp_path / 'b')).key != key_a
    # the digest cache hashes only what changed (size + mtime) and never hides a change
    cache = str(tmp_path / 'digests.json')
    load_test_set(str(tmp_path / 'a'), digest_cache=cache)
    hashed: list[str] = []
    real = __import__('fhgan_plugin.utils.io', fromlist=['file_digest']).file_digest
    monkeypatch.setattr('fhgan_plugin.utils.io.file_digest', lambda p: hashed.append(p) or real(p))
    assert load_test_set(str(tmp_path / 'a'), digest_cache=cache).key == key_a and hashed == []
    cv2.imwrite(str(tmp_path / 'a' / rels[1]), 255 - cv2.imread(str(tmp_path / 'a' / rels[1])))
    assert load_test_set(str(tmp_path / 'a'), digest_cache=cache).key != key_a
    assert [os.path.basename(p) for p in hashed] == [os.path.basename(rels[1])]
    assert DigestCache(cache).digest(str(tmp_path / 'a' / rels[1])) == real(str(tmp_path / 'a' / rels[1]))


def test_changed_hr_images_are_not_served_from_the_cache(tmp_path) -> None:  # noqa: ANN001
    rels = write_faces(str(tmp_path / 'faces'), 4, size=32)
    common = ['--root', str(tmp_path / 'faces'), '--pairs-file', 'none', '--lpips-vgg', 'none',
              '--out', str(tmp_path / 'out'), '--method', 'bicubic', '--figure-pairs', '']
    first = evaluate_main(common)['rows'][0]
    cv2.imwrite(str(tmp_path / 'faces' / rels[0]), np.zeros((32, 32, 3), np.uint8))
    second = evaluate_main(common)['rows'][0]
    assert not second['cached'] and second['psnr'] != first['psnr']
    assert evaluate_main(common)['rows'][0]['cached']


# ------------------------------------------------------------------ 4. a failed save stops training
def test_failed_save_raises_naming_the_file_and_keeps_the_old_one(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from basicsr.models.base_model import BaseModel

    class Saver:
        opt = {'path': {'models': str(tmp_path), 'training_states': str(tmp_path)}}
        optimizers: list = []
        schedulers: list = []

        def get_bare_model(self, net):  # noqa: ANN001, ANN201
            return net

    net = torch.nn.Linear(3, 2)
    BaseModel.save_network(Saver(), net, 'net_g', 5)
    good = (tmp_path / 'net_g_5.pth').read_bytes()
    monkeypatch.setattr(compat.time, 'sleep', lambda s: None)
    os.mkdir(tmp_path / 'net_g_5.pth.tmp')  # every attempt fails (IsADirectoryError), as on a broken disk
    with pytest.raises(WriteError, match='net_g_5.pth.*stopping training'):
        BaseModel.save_network(Saver(), net, 'net_g', 5)
    assert (tmp_path / 'net_g_5.pth').read_bytes() == good
    os.mkdir(tmp_path / '7.state.tmp')
    with pytest.raises(WriteError, match='7.state'):
        BaseModel.save_training_state(Saver(), 0, 7)


@pytest.mark.slow
def test_training_that_cannot_save_exits_non_zero(tmp_path) -> None:  # noqa: ANN001
    """A real write failure (the file-size limit: EFBIG on every checkpoint, the log still fits)."""
    write_faces(str(tmp_path / 'faces'), 12, size=32)
    opt = tiny_train_opt(str(tmp_path / 'faces'), 'nosave', total_iter=4, val_freq=100)
    yml = write_opt(str(tmp_path / 'nosave.yml'), opt)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))  # a DSNet checkpoint is ~47 KB

    res = subprocess.run([PY, os.path.join(REPO, 'fhgan_plugin', 'train.py'), '-opt', yml], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, preexec_fn=limit)
    assert res.returncode == 1, res.stderr[-3000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith('fhgan-train: error: cannot write') and 'net_g_2.pth' in last, last
    models = tmp_path / 'experiments' / 'nosave' / 'models'
    assert os.listdir(models) == [], 'no partial checkpoint and no temporary file'
    log = open(next((tmp_path / 'experiments' / 'nosave').glob('train_*.log'))).read()
    assert 'End of training' not in log and 'Just ignore it' not in log


# ------------------------------------------------------------------ resume skips an unreadable pair
def test_auto_resume_skips_a_pair_whose_network_file_is_unreadable(tmp_path,  # noqa: ANN001
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / 'exp'
    (root / 'training_states').mkdir(parents=True)
    (root / 'models').mkdir()
    for it in (4, 8):
        save_torch({'epoch': 0, 'iter': it, 'optimizers': [], 'schedulers': []},
                   root / 'training_states' / f'{it}.state')
        save_torch({'params': {'w': torch.zeros(3)}}, root / 'models' / f'net_g_{it}.pth')
    (root / 'models' / 'net_g_8.pth').write_bytes((root / 'models' / 'net_g_8.pth').read_bytes()[:100])
    opt = {'name': 'x', 'auto_resume': True, 'num_gpu': 0, 'network_g': {'type': 'DSNet'},
           'path': {'training_states': str(root / 'training_states'), 'models': str(root / 'models')}}
    _log_into(caplog)
    with caplog.at_level(logging.WARNING):
        state = compat.load_resume_state(opt)
    assert state['iter'] == 4 and opt['path']['pretrain_network_g'].endswith('net_g_4.pth')
    assert 'cannot resume from iteration 8' in caplog.text and 'net_g_8.pth' in caplog.text


# ------------------------------------------------------------------ 6. bad values are refused, naming them
@pytest.mark.parametrize('args', [['--limit', '0'], ['--limit', '-1'], ['--lpips-images', '0'],
                                  ['--batch-size', '-3'], ['--batch-size', '0']])
def test_evaluate_range_checks_its_numbers(args: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        evaluate_main(['--pairs-file', 'none', '--lpips-vgg', 'none', *args])
    assert info.value.code == 2 and args[0] in capsys.readouterr().err


@pytest.mark.parametrize('args', [['--batch-size', '0'], ['--scale', '-1'], ['--max-memory', '0']])
def test_hallucinate_range_checks_its_numbers(tmp_path, args: list[str]) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path), '-o', str(tmp_path / 'o'), *args])
    assert info.value.code == 2


def test_prepare_data_rejects_unknown_sets() -> None:
    res = subprocess.run([PY, os.path.join(REPO, 'scripts', 'prepare_data.py'), '--sets', 'bogus'],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "invalid choice: 'bogus'" in res.stderr


def test_misspelt_path_key_is_refused_and_creates_nothing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import basicsr.utils.options
    opt = tiny_train_opt(str(tmp_path / 'faces'), 'typo')
    opt['path']['pretrain_netwrok_g'] = str(tmp_path / 'weights.pth')
    yml = write_opt(str(tmp_path / 'typo.yml'), opt)
    monkeypatch.setattr('sys.argv', ['train.py', '-opt', yml])
    with pytest.raises(OptionError, match='unknown option path.pretrain_netwrok_g; valid keys: .*pretrain_network_g'):
        basicsr.utils.options.parse_options(str(tmp_path), is_train=True)
    assert not (tmp_path / 'weights.pth').exists() and not (tmp_path / 'experiments').exists()
    opt['path'] = {'pretrain_network_g': str(tmp_path / 'missing.pth')}
    monkeypatch.setattr('sys.argv', ['train.py', '-opt', write_opt(yml, opt)])
    with pytest.raises(OptionError, match='path.pretrain_network_g: no such file'):
        basicsr.utils.options.parse_options(str(tmp_path), is_train=True)


@pytest.mark.parametrize('lr, hint', [('abc', ''), ('1e-4', 'YAML reads 1e-4 as text')])
def test_optimizer_value_of_the_wrong_type_names_its_key(tmp_path, lr: str, hint: str) -> None:  # noqa: ANN001
    from basicsr.models import build_model
    write_faces(str(tmp_path / 'faces'), 4, size=32)
    opt = tiny_train_opt(str(tmp_path / 'faces'), 'lr')
    opt.update(model_type='FaceSRModel', is_train=True, dist=False, rank=0, world_size=1,
               path={'models': str(tmp_path), 'training_states': str(tmp_path), 'log': str(tmp_path),
                     'visualization': str(tmp_path), 'experiments_root': str(tmp_path)})
    opt['train']['optim_g']['lr'] = lr
    with pytest.raises(OptionError, match=f"train.optim_g.lr must be a number, got '{lr}'.*{hint}"):
        build_model(opt)


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    (tmp_path / 'o').write_text('a file')
    write_faces(str(tmp_path / 'lr'), 1, size=28)
    (tmp_path / 'bad.pth').write_bytes(os.urandom(64))
    cases = [([str(tmp_path / 'missing'), '-o', str(tmp_path / 'sr')], 'neither a file nor a folder'),
             ([str(tmp_path / 'lr'), '-o', str(tmp_path / 'o')], 'is not a folder'),
             ([str(tmp_path / 'lr'), '-o', str(tmp_path / 'sr'), '--weights', str(tmp_path / 'nope.pth')],
              'neither a file nor a shipped model'),
             ([str(tmp_path / 'lr'), '-o', str(tmp_path / 'sr'), '--weights', str(tmp_path / 'bad.pth')],
              'not a PyTorch file')]
    for argv, message in cases:
        assert run_cli(main, 'fhgan-hallucinate', argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    with pytest.raises(InputError):  # --debug: the traceback instead of the line
        run_cli(main, 'fhgan-hallucinate', cases[0][0] + ['--debug'])


# ------------------------------------------------------------------ 7. total_iter is reached
def test_small_training_set_still_reaches_total_iter() -> None:
    from basicsr.data.data_sampler import EnlargedSampler
    data = list(range(10))
    sampler = EnlargedSampler(data, 1, 0)
    loader = torch.utils.data.DataLoader(data, batch_size=4, sampler=sampler, drop_last=True)

    def basicsr_create(opt, log):  # noqa: ANN001, ANN202 - BasicSR's arithmetic: ceil(10 / 4) = 3 per epoch
        return loader, sampler, [], 7, 20

    basicsr_create.__code__ = basicsr_create.__code__.replace(co_filename='basicsr/train.py')
    namespace = {'create_train_val_dataloader': basicsr_create}
    compat._swap_train_functions(namespace)
    opt = {'datasets': {'train': {'batch_size_per_gpu': 4}}}
    _, _, _, epochs, total = namespace['create_train_val_dataloader'](opt, logging.getLogger('t'))
    assert total == 20 and (epochs + 1) * len(loader) >= 20, 'BasicSR runs epochs 0..total_epochs'
    assert (7 + 1) * len(loader) < 20, "BasicSR's own count stops short (16 iterations)"
    big = torch.utils.data.DataLoader(data, batch_size=16, sampler=sampler, drop_last=True)
    namespace = {'create_train_val_dataloader': basicsr_create}
    compat._swap_train_functions(namespace)
    loader = big  # noqa: F841 - read by basicsr_create
    with pytest.raises(OptionError, match='batch_size_per_gpu'):
        namespace['create_train_val_dataloader']({'datasets': {'train': {'batch_size_per_gpu': 16}}}, None)


@pytest.mark.slow
def test_tiny_run_trains_exactly_total_iter(tmp_path) -> None:  # noqa: ANN001
    write_faces(str(tmp_path / 'faces'), 10, size=32)
    opt = tiny_train_opt(str(tmp_path / 'faces'), 'iters', total_iter=20, val_freq=100, ckpt=100)
    yml = write_opt(str(tmp_path / 'iters.yml'), opt)  # 10 images, batch 4: 2 iterations per epoch
    res = subprocess.run([PY, os.path.join(REPO, 'fhgan_plugin', 'train.py'), '-opt', yml], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    log = open(next((tmp_path / 'experiments' / 'iters').glob('train_*.log'))).read()
    assert re.search(r'iter:\s*20,', log) and not re.search(r'iter:\s*21,', log)
    assert 'End of training' in log
