"""Shipped generator weights: loadable by name (the default of fhgan-hallucinate), float16, with a model card."""
from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch
from torch import nn

from fhgan_plugin.archs import DSNet
from fhgan_plugin.inference import hallucinate, load_generator
from fhgan_plugin.model_zoo import DEFAULT_MODEL, SHIPPED_MODELS, resolve_weights
from tests.conftest import write_faces


def test_unknown_name_lists_the_shipped_models(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError, match=DEFAULT_MODEL):
        resolve_weights(str(tmp_path / 'nope.pth'))
    path = tmp_path / 'g.pth'
    torch.save({'params': DSNet.from_config('cpu').state_dict()}, path)
    assert resolve_weights(str(path)) == (str(path), None)


def test_default_model_is_the_fhgan_generator() -> None:
    path, arch = resolve_weights(None)
    assert DEFAULT_MODEL == 'fhgan-x4-cpu' and path == SHIPPED_MODELS[DEFAULT_MODEL].path and arch['type'] == 'DSNet'


@pytest.mark.parametrize('name', sorted(SHIPPED_MODELS))
def test_shipped_model_is_float16_with_a_card(name: str) -> None:
    model = SHIPPED_MODELS[name]
    path, arch = resolve_weights(name)
    assert path == model.path and (arch['type'] == 'DSNet' or model.role == 'baseline')
    size = os.path.getsize(path)
    assert size < 12 * 2**20
    state = torch.load(path, map_location='cpu', weights_only=True)['params']
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    card = open(model.card).read()
    info = json.load(open(os.path.splitext(model.path)[0] + '.json'))
    with open(path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert info['sha256'] == sha and sha in card and info['dtype'] == 'float16' and info['name'] == name
    assert model.limits and model.limits in card
    assert abs(info['psnr_fp16'] - info['psnr_fp32']) < 0.05
    net = load_generator(path, arch)
    assert all(torch.isfinite(p).all() for p in net.parameters())
    s = model.scale
    assert net(torch.rand(1, 3, 28, 28)).shape == (1, 3, 28 * s, 28 * s)


@pytest.mark.parametrize('name', sorted(n for n, m in SHIPPED_MODELS.items() if m.scale == 8))
def test_hallucinate_x8_model_writes_8x_faces_with_the_same_names(tmp_path, name: str) -> None:  # noqa: ANN001
    """`fhgan-hallucinate --weights <x8 model> LR16/ -o out/`: 128x128 faces from 16x16 ones (any size: 8x), same
    relative names; photo mode (ArcFace framing, x4) refuses an x8 model before writing anything."""
    import cv2

    from fhgan_plugin.errors import InputError
    from fhgan_plugin.inference import main
    rels = write_faces(str(tmp_path / 'lr16'), 3, size=16)
    cv2.imwrite(str(tmp_path / 'lr16' / 'wide.png'), cv2.resize(cv2.imread(str(tmp_path / 'lr16' / rels[0])), (24, 16)))
    summary = main(['--weights', name, str(tmp_path / 'lr16'), '-o', str(tmp_path / 'out')])
    assert summary['written'] == 4 and not summary['failed']
    for rel in rels:
        assert cv2.imread(str(tmp_path / 'out' / rel)).shape == (128, 128, 3)
    assert cv2.imread(str(tmp_path / 'out' / 'wide.png')).shape == (128, 192, 3)
    with pytest.raises(InputError, match='photo mode aligns faces to the ArcFace 112x112 framing'):
        hallucinate(str(tmp_path / 'lr16'), str(tmp_path / 'photo_out'), weights=name, mode='photo')
    assert not (tmp_path / 'photo_out').exists()


def test_hallucinate_without_weights_uses_the_shipped_model(tmp_path) -> None:  # noqa: ANN001
    """The written faces are the default shipped generator's output (within one grey level of the PNG rounding)."""
    import cv2
    rels = write_faces(str(tmp_path / 'lr'), 3, size=28)
    report = hallucinate(str(tmp_path / 'lr'), str(tmp_path / 'sr'))
    assert len(report.written) == 3 and not report.failed
    net = load_generator(*resolve_weights(DEFAULT_MODEL))
    for rel in rels:
        lr = cv2.imread(str(tmp_path / 'lr' / rel))[:, :, ::-1].copy()
        with torch.no_grad():
            ref = net(torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255).clamp(0, 1)[0]
        out = torch.from_numpy(cv2.imread(str(tmp_path / 'sr' / rel))[:, :, ::-1].copy()).permute(2, 0, 1)
        assert out.shape == (3, 112, 112) and (out.float() - ref * 255).abs().max() <= 1.0


def test_make_release_writes_fp16_weights_and_card(tmp_path) -> None:  # noqa: ANN001
    from scripts.make_release import main
    torch.manual_seed(0)
    ckpt = tmp_path / 'net_g.pth'
    torch.save({'params': DSNet.from_config('cpu').state_dict()}, ckpt)
    rels = write_faces(str(tmp_path / 'hr'), 4, size=112)
    (tmp_path / 'labels.txt').write_text(''.join(f'{r} {i % 2}\n' for i, r in enumerate(rels)))
    (tmp_path / 'opt.yml').write_text(f"name: x\ndatasets:\n  train:\n    label_file: {tmp_path / 'labels.txt'}\n")
    info = main(['--name', DEFAULT_MODEL, '--ckpt', str(ckpt), '--options', str(tmp_path / 'opt.yml'),
                 '--root', str(tmp_path / 'hr'), '--pairs-file', 'none', '--out-dir', str(tmp_path / 'w')])
    assert info['dtype'] == 'float16' and info['test_images'] == 4
    assert (info['train_images'], info['train_identities']) == (4, 2)
    assert '4 images, 2 identities' in (tmp_path / 'w' / 'fhgan_x4_cpu.md').read_text()
    saved = torch.load(tmp_path / 'w' / SHIPPED_MODELS[DEFAULT_MODEL].file, weights_only=True)['params']
    assert next(iter(saved.values())).dtype == torch.float16
    assert info['sha256'] in (tmp_path / 'w' / 'fhgan_x4_cpu.md').read_text()


def test_training_set_size_counts_a_photo_in_both_x8_framings_as_one_person(tmp_path) -> None:  # noqa: ANN001
    """An x8 two-framing list names every photo twice (CelebA-1000 and Helen-50 framing): twice the images, the
    same people."""
    from fhgan_plugin.data.face_sr_x8 import HELEN_FRAMING_DIR
    from scripts.make_release import training_set_size
    rels = ['celeba/7201/001085.png', 'celeba/7201/007710.png', 'lfw_train/Zeng_Qinghong/Zeng_Qinghong_0001.png']
    (tmp_path / 'meta.txt').write_text(''.join(f'{r}\n' for r in rels + [f'{HELEN_FRAMING_DIR}/{r}' for r in rels]))
    (tmp_path / 'opt.yml').write_text(f"datasets:\n  train:\n    meta_info_file: {tmp_path / 'meta.txt'}\n")
    assert training_set_size(str(tmp_path / 'opt.yml')) == (6, 2)


def test_make_release_selects_the_best_validated_checkpoint(tmp_path) -> None:  # noqa: ANN001
    """make_release.py --select / collect_validation.py --best METRIC: the saved checkpoint with the highest
    validation METRIC in the run's BasicSR log."""
    from scripts.collect_validation import select_checkpoint
    run = tmp_path / 'run'
    (run / 'models').mkdir(parents=True)
    log = ['2026-12-02 13:00:00,000 INFO: ', '    total_iter: 3000', '    val_freq: 1000.0',
           '2026-12-02 13:00:01,000 INFO: Start training from epoch: 0, iter: 0']
    for it, psnr in ((1000, 24.5), (2000, 25.3), (3000, 25.1)):
        log += [f'2026-12-02 13:0{it // 1000}:00,000 INFO: [x..][epoch:  0, iter: {it:7,d}, lr:(1e-3,)] l: 1',
                f'2026-12-02 13:0{it // 1000}:01,000 INFO: Validation val', f'\t # psnr: {psnr}\tBest: 0 @ 0 iter']
    (run / 'train_x_20261202.log').write_text('\n'.join(log) + '\n')
    for it in (1000, 3000):  # 2000 (the best) was not saved: it cannot be chosen
        torch.save({}, run / 'models' / f'net_g_{it}.pth')
    sel = select_checkpoint(str(run), 'psnr')
    assert sel['iter'] == 3000 and sel['value'] == 25.1 and sel['checkpoint'].endswith('net_g_3000.pth')
    assert [c['iter'] for c in sel['candidates']] == [1000, 3000]
    torch.save({}, run / 'models' / 'net_g_2000.pth')
    assert select_checkpoint(str(run), 'psnr')['iter'] == 2000
    with pytest.raises(ValueError, match="no validation with 'acc'"):
        select_checkpoint(str(run), 'acc')


def test_degrade_faces_matches_the_dataset_degradation(tmp_path) -> None:  # noqa: ANN001
    import cv2
    import numpy as np

    from fhgan_plugin.data.degradation import canonical_degradation
    from scripts.degrade_faces import main
    rels = write_faces(str(tmp_path / 'hr'), 3, size=112)
    cv2.imwrite(str(tmp_path / 'hr' / 'odd.png'), np.zeros((30, 30, 3), np.uint8))
    report = main([str(tmp_path / 'hr'), str(tmp_path / 'lr')])
    assert report['written'] == 3 and report['failed'][0][0] == 'odd.png'
    hr = cv2.imread(str(tmp_path / 'hr' / rels[0]))[:, :, ::-1].copy()
    ref = canonical_degradation(torch.from_numpy(hr).permute(2, 0, 1).float() / 255)
    lr = cv2.imread(str(tmp_path / 'lr' / rels[0]))[:, :, ::-1].copy()
    assert lr.shape == (28, 28, 3)
    assert np.array_equal(lr, (ref * 255).round().byte().permute(1, 2, 0).numpy())


def test_shipped_model_is_an_evaluation_method() -> None:
    from fhgan_plugin.evaluation.methods import parse_method
    m = parse_method(DEFAULT_MODEL)
    assert m.label == DEFAULT_MODEL and m.kind == 'network' and m.checkpoint == SHIPPED_MODELS[DEFAULT_MODEL].path
    assert parse_method(f'FH-GAN={DEFAULT_MODEL}').label == 'FH-GAN'


@pytest.mark.shared
@pytest.mark.slow
def test_shipped_models_beat_bicubic_on_real_lfw_faces(shared: str, tmp_path) -> None:  # noqa: ANN001
    """On 24 LFW faces (aligned here), each shipped model does what it is for: DSNet-PSNR is closer to the HR
    faces in pixels than PIL bicubic (measured 30.79 against 27.77 dB), FH-GAN in identity (mean cosine of shared
    MobileFaceNet embeddings to the HR faces' 0.827 against bicubic's 0.722 and DSNet-PSNR's 0.806)."""
    import numpy as np

    from fhgan_plugin.archs.face_recognizer import FaceEmbedder
    from fhgan_plugin.data.degradation import canonical_degradation
    from fhgan_plugin.data.pairs import parse_lfw_pairs
    from fhgan_plugin.data.prepare import AlignConfig, align_images
    from fhgan_plugin.utils.metrics import psnr_ssim_batch
    from fhgan_plugin.utils.upsample import pil_upsample
    lfw = os.path.join(shared, 'data', 'lfw')
    rels = sorted({p.path1 for p in parse_lfw_pairs(os.path.join(lfw, 'pairs.txt'))[::250]})[:24]
    align_images(rels, os.path.join(lfw, 'images_deepfunneled'), str(tmp_path / 'hr'),
                 AlignConfig(os.path.join(shared, 'models', 'facexlib')))
    import cv2
    hr = torch.stack([torch.from_numpy(cv2.imread(str(tmp_path / 'hr' / (os.path.splitext(r)[0] + '.png')))
                                       [:, :, ::-1].copy()).permute(2, 0, 1) for r in rels]).float() / 255
    lr = canonical_degradation(hr)
    with torch.no_grad():
        sr = {name: load_generator(*resolve_weights(name))(lr).clamp(0, 1) for name, m in SHIPPED_MODELS.items()
              if m.scale == 4}  # the x8 models are tested on their benchmark (tests/test_x8_benchmark.py)
    bic = pil_upsample(lr, 4, 'bicubic')
    psnr = {name: float(np.mean(psnr_ssim_batch(x, hr)[0])) for name, x in {**sr, 'bicubic': bic}.items()}
    fr = FaceEmbedder(backbone={'type': 'FHMobileFaceNet'}, flip_concat=True,
                      pretrain_path=os.path.join(shared, 'models', 'mobilefacenet_casia_068.pth')).eval()
    with torch.no_grad():
        e_hr = torch.nn.functional.normalize(fr(hr), dim=1)
        cos = {name: float((torch.nn.functional.normalize(fr(x), dim=1) * e_hr).sum(1).mean())
               for name, x in {**sr, 'bicubic': bic}.items()}
    assert psnr['dsnet-psnr-x4-cpu'] > psnr['bicubic'] + 0.5, psnr  # the PSNR model: sharper and closer in pixels
    assert cos['fhgan-x4-cpu'] > max(cos['bicubic'], cos['dsnet-psnr-x4-cpu']), cos  # FH-GAN: closer in identity


@pytest.mark.parametrize('opt_file', ['options/train/FHGAN/train_FHGAN_x4_cpu.yml',
                                      'docs/lab/options/fhgan_joint_noid_cpu.yml'])
def test_fhgan_cpu_runs_start_from_the_shipped_dsnet_psnr(opt_file: str) -> None:
    """The ablation pair needs no earlier stage for its generator: it loads the shipped DSNet-PSNR file, which
    fits the run's network_g exactly."""
    import yaml

    from fhgan_plugin.evaluation.methods import build_arch
    from fhgan_plugin.utils.checkpoint import load_state_dict_checked, read_state_dict
    with open(opt_file) as f:
        opt = yaml.safe_load(f)
    model = SHIPPED_MODELS['dsnet-psnr-x4-cpu']
    assert os.path.abspath(opt['path']['pretrain_network_g']) == model.path
    net = build_arch(dict(opt['network_g']))
    load_state_dict_checked(net, read_state_dict(model.path, 'params'), strict=True)
    assert all(torch.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize('name', sorted(SHIPPED_MODELS))
def test_every_shipped_model_has_one_options_file_that_re_creates_it(name: str) -> None:
    """The model zoo names an options file that exists, whose network_g is the shipped architecture (less the
    inference-only back-projection), and scripts/train_release_models.sh trains exactly that file and releases
    the model from it; the model card names the same file."""
    import yaml

    from tests.conftest import REPO
    model = SHIPPED_MODELS[name]
    path = os.path.join(REPO, model.options)
    assert os.path.isfile(path) and model.options.startswith('options/train/'), model.options
    with open(path) as f:
        opt = yaml.safe_load(f)
    arch = {k: v for k, v in model.arch.items() if k != 'back_projection'}
    assert {k: opt['network_g'].get(k, v) for k, v in arch.items()} == arch
    assert model.run_name == opt['name']
    script = open(os.path.join(REPO, 'scripts', 'train_release_models.sh')).read()
    assert f'train {model.options}' in script and f'make_release.py --name {name}' in script
    assert script.index(f'train {model.options}') < script.index(f'make_release.py --name {name}')
    assert model.options in open(model.card).read()


def test_fhgan_release_starts_from_the_released_dsnet_psnr_and_stage_1() -> None:
    """The FH-GAN options load the DSNet-PSNR file that the zoo ships and the FR network of the stage-1 options
    run, so the release script's order (stage 1 and DSNet-PSNR, release, FH-GAN) is all it needs."""
    import yaml

    from tests.conftest import REPO
    with open(os.path.join(REPO, SHIPPED_MODELS['fhgan-x4-cpu'].options)) as f:
        opt = yaml.safe_load(f)
    assert os.path.abspath(os.path.join(REPO, opt['path']['pretrain_network_g'])) == \
        SHIPPED_MODELS['dsnet-psnr-x4-cpu'].path
    with open(os.path.join(REPO, 'options/train/ArcFace/train_ArcFace_MobileFaceNet_cpu.yml')) as f:
        stage1 = yaml.safe_load(f)
    assert opt['path']['pretrain_network_fr'] == f"experiments/{stage1['name']}/models/net_fr_latest.pth"
    assert opt['network_head']['num_classes'] == stage1['network_head']['num_classes']


def test_average_checkpoints_script(tmp_path) -> None:  # noqa: ANN001
    from tests.conftest import lab_script
    lab = lab_script('average_checkpoints')
    average_state_dicts, main = lab.average_state_dicts, lab.main

    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        net[1].num_batches_tracked += seed + 1
        torch.save({'params': net.state_dict()}, tmp_path / f'n{seed}.pth')
        nets.append(net.state_dict())
    out = main([str(tmp_path / f'n{i}.pth') for i in range(3)] + ['--out', str(tmp_path / 'avg.pth')])
    avg = torch.load(out, weights_only=True)['params']
    assert torch.allclose(avg['0.weight'], (nets[0]['0.weight'] + nets[1]['0.weight'] + nets[2]['0.weight']) / 3)
    assert avg['1.num_batches_tracked'].item() == 1  # integer buffers: the first checkpoint's
    torch.save({'params': nn.Conv2d(3, 5, 3).state_dict()}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='not the same network'):
        average_state_dicts([str(tmp_path / 'n0.pth'), str(tmp_path / 'other.pth')])
