"""Speed work that must not change results: bfloat16 detection, BatchNorm folding, one-batch flip embeddings,
channels-last LPIPS, the optimised evaluation path against the straightforward one, the training profiler and
the evaluation's arithmetic count."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import yaml
from basicsr.metrics import calculate_psnr, calculate_ssim

from fhgan_plugin.archs import DSNet
from fhgan_plugin.archs.face_recognizer import FaceEmbedder, fold_batchnorm
from fhgan_plugin.data.pairs import Pair, write_pairs_list
from fhgan_plugin.evaluation.methods import parse_method
from fhgan_plugin.evaluation.runner import Evaluator, load_test_set
from fhgan_plugin.metrics.verification import kfold_verification, pair_arrays, pair_scores
from fhgan_plugin.utils import precision
from tests.conftest import write_faces

TINY = dict(num_feat=8, num_block=2, num_layer=3, growth=4, num_bottleneck=8, upscale=4)
TINY_SPEC = 'DSNet(num_feat=8,num_block=2,num_layer=3,growth=4,num_bottleneck=8)'


@pytest.mark.parametrize('avx512_bf16, amx, expected', [(True, False, torch.bfloat16), (False, True, torch.bfloat16),
                                                        (False, False, None)])
def test_autocast_auto_follows_the_cpus_bfloat16_support(monkeypatch, avx512_bf16: bool, amx: bool,  # noqa: ANN001
                                                         expected: torch.dtype | None) -> None:
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported', lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: amx)
    assert precision.bf16_supported('cpu') is (expected is not None)
    assert precision.parse_autocast('auto', 'cpu') is expected
    assert precision.parse_autocast('bfloat16', 'cpu') is torch.bfloat16  # explicit: always on
    assert precision.parse_autocast(None, 'cpu') is None
    if not torch.cuda.is_available():
        assert precision.parse_autocast('auto', 'cuda') is None
    with pytest.raises(ValueError, match='auto, bfloat16 or ~'):
        precision.parse_autocast('half', 'cpu')


def _mobilefacenet(flip: bool = True) -> FaceEmbedder:
    torch.manual_seed(0)
    fr = FaceEmbedder({'type': 'FHMobileFaceNet'}, flip_concat=flip)
    fr.train()
    with torch.no_grad():  # non-trivial running statistics, as a trained network has
        for _ in range(3):
            fr(torch.rand(8, 3, 112, 112))
    return fr.eval()


def test_fold_batchnorm_gives_the_same_embeddings_without_batchnorm() -> None:
    fr = _mobilefacenet(flip=False)
    folded = fold_batchnorm(fr)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in fr.modules()) == 50  # the original keeps its BNs
    assert not any(p.requires_grad for p in folded.parameters())
    x = torch.rand(4, 3, 112, 112)
    with torch.no_grad():
        ref, out = fr(x), folded(x)
    assert (ref - out).abs().max() < 1e-4 * ref.abs().max()


def test_flip_concat_embeds_face_and_mirror_in_one_batch() -> None:
    fr = _mobilefacenet(flip=True)
    x = torch.rand(3, 3, 112, 112)
    with torch.no_grad():
        emb = fr(x)
        pre = fr.preprocess(x)
        expected = torch.cat([fr.backbone(pre), fr.backbone(pre.flip(-1))], 1)
    assert emb.shape == (3, 256) and (emb - expected).abs().max() < 1e-5


def test_channels_last_lpips_equals_the_lpips_package(tmp_path) -> None:  # noqa: ANN001
    lpips = pytest.importorskip('lpips')
    import torchvision

    from fhgan_plugin.evaluation.lpips_metric import build_lpips
    torch.manual_seed(0)
    feats = torchvision.models.vgg16(weights=None).features
    path = str(tmp_path / 'vgg16_features.pth')
    torch.save({f'features.{k}': v for k, v in feats.state_dict().items()}, path)
    ours = build_lpips(path)
    ref = lpips.LPIPS(net='vgg', pnet_rand=True, verbose=False).eval()
    ref.net.load_state_dict(ours.model.net.state_dict())
    x, y = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x, y, normalize=True).flatten()
    assert next(ours.model.net.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(ours(x, y), expected, rtol=1e-4, atol=1e-6)


def _pairs_set(tmp_path) -> tuple[str, str]:  # noqa: ANN001
    """24 synthetic 112x112 faces of 3 identities and 20 pairs over 10 folds (one same, one different each)."""
    root = str(tmp_path / 'faces')
    rels = write_faces(root, 24, size=112)
    by_id: dict[str, list[str]] = {}
    for r in rels:
        by_id.setdefault(os.path.dirname(r), []).append(r)
    ids = sorted(by_id)
    pairs = []
    for fold in range(10):
        a = ids[fold % 3]
        b = ids[(fold + 1) % 3]
        pairs.append(Pair(by_id[a][fold % 8], by_id[a][(fold + 3) % 8], True, fold))
        pairs.append(Pair(by_id[a][fold % 8], by_id[b][fold % 8], False, fold))
    pairs_file = str(tmp_path / 'pairs.txt')
    write_pairs_list(pairs_file, pairs)
    return root, pairs_file


def test_optimised_evaluation_reproduces_the_straightforward_numbers(tmp_path) -> None:  # noqa: ANN001
    """The evaluation path (FastDSNet SR, batched uint8 conversion, PSNR/SSIM on a second thread, folded-BN FR with
    both views in one batch, batched degradation, threaded reading) against the straightforward one computed here:
    the training DSNet, BasicSR's per-image functions on RGB uint8, the unfolded FR run twice per face."""
    root, pairs_file = _pairs_set(tmp_path)
    torch.manual_seed(0)
    net = DSNet(**TINY).eval()
    ckpt = str(tmp_path / 'net_g.pth')
    torch.save({'params': net.state_dict()}, ckpt)
    from fhgan_plugin.utils.paths import shared_root
    weights = os.path.join(shared_root() or '', 'models', 'mobilefacenet_casia_068.pth')
    if os.path.isfile(weights):  # the trained network separates the pairs (untrained, all scores are ~1)
        fr = FaceEmbedder({'type': 'FHMobileFaceNet'}, pretrain_path=weights, flip_concat=True).eval()
    else:
        fr = _mobilefacenet(flip=True)
    ts = load_test_set(root, pairs_file, pairs_kind='list')
    res = Evaluator(fr=fr, batch_size=8).run_method(parse_method(f'tiny={TINY_SPEC}@{ckpt}'), ts)

    import cv2

    from fhgan_plugin.data.degradation import canonical_degradation
    psnr, ssim, embs = [], [], []
    for rel in ts.images:
        hr = torch.from_numpy(cv2.imread(os.path.join(root, rel))[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255
        lq = canonical_degradation(hr)
        with torch.no_grad():
            sr = (net(lq[None]).clamp(0, 1) * 255).round()[0] / 255
            pre = fr.preprocess(sr[None])
            e = torch.cat([fr.backbone(pre), fr.backbone(pre.flip(-1))], 1)
        embs.append(torch.nn.functional.normalize(e, dim=1)[0])
        a = (sr * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        b = (hr * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        psnr.append(calculate_psnr(a, b, 0))
        ssim.append(calculate_ssim(a, b, 0))
    # the fast SR path equals the training module to float rounding, so a rare pixel may round to the other grey
    # level (~1e-7 dB on one face): the printed numbers (PSNR 2, SSIM 4 decimals) are identical
    assert res.psnr == pytest.approx(psnr, abs=1e-4) and res.ssim == pytest.approx(ssim, abs=1e-5)
    assert round(float(np.mean(res.psnr)), 2) == round(float(np.mean(psnr)), 2)
    assert round(float(np.mean(res.ssim)), 4) == round(float(np.mean(ssim)), 4)
    emb = torch.stack(embs)
    assert (res.emb - emb).abs().max() < 1e-3  # 1e-5 where no SR pixel rounded the other way
    i1, i2, same, folds = pair_arrays(ts.images, ts.pairs)
    s_ref, s_got = pair_scores(emb, i1, i2), pair_scores(res.emb, i1, i2)
    assert np.abs(np.asarray(s_ref) - np.asarray(s_got)).max() < 1e-3
    if os.path.isfile(weights):
        ref, got = kfold_verification(s_ref, same, folds), kfold_verification(s_got, same, folds)
        assert got.accuracy == ref.accuracy and got.fold_accuracies == ref.fold_accuracies


def test_training_profile_times_the_joint_iteration_and_each_part(tmp_path) -> None:  # noqa: ANN001
    from fhgan_plugin.utils.train_profile import profile_training
    from tests.test_models import TINY_FR
    root = str(tmp_path / 'faces')
    rels = write_faces(root, 12, size=32)
    labels = str(tmp_path / 'labels.txt')
    with open(labels, 'w') as f:
        f.writelines(f'{r} {int(os.path.dirname(r)[2:])}\n' for r in rels)
    opt = {
        'name': 'profile_tiny', 'model_type': 'FHGANModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'train': {'name': 'tiny', 'type': 'FaceIdentityDataset', 'dataroot_gt': root,
                               'label_file': labels, 'gt_size': 32, 'use_hflip': True, 'num_worker_per_gpu': 0,
                               'batch_size_per_gpu': 4, 'dataset_enlarge_ratio': 1, 'prefetch_mode': None}},
        'network_g': {'type': 'DSNet', **TINY},
        'network_d': {'type': 'FHCritic', 'num_feat': 8, 'num_down': 3, 'input_size': 32},
        'network_fr': TINY_FR,
        'network_head': {'type': 'ArcMarginHead', 'embedding_size': 16, 'num_classes': 3, 's': 64.0, 'm': 0.5},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {'autocast': 'auto', 'channels_last': True,
                  'optim_g': {'type': 'Adam', 'lr': 1e-4}, 'optim_d': {'type': 'Adam', 'lr': 1e-4},
                  'optim_fr': {'type': 'SGD', 'lr': 1e-4, 'momentum': 0.9},
                  'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
                  'total_iter': 10, 'warmup_iter': -1,
                  'pixel_opt': {'type': 'MSELoss', 'loss_weight': 1.0},
                  'gan_opt': {'type': 'WGANGPLoss', 'loss_weight': 1e-3, 'gp_weight': 10.0},
                  'identity_opt': {'type': 'IdentityLoss', 'loss_weight': 1.0},
                  'arcface_opt': {'type': 'ArcFaceLoss', 'loss_weight': 1.0}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 100, 'use_tb_logger': False},
    }
    path = str(tmp_path / 'opt.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f)
    res = profile_training(path, ['train:autocast=~'], iters=2, warmup=1, time_box=5)
    assert res['autocast'] == 'float32' and res['channels_last'] and res['batch'] == 4
    assert set(res['parts']) == {
        'data (dataset + collate, in process)', 'feed_data', 'generator forward + backward',
        'pixel loss forward + backward', 'optimizer step (generator)',
        'critic step (WGAN-GP, gradient penalty, optimizer)', 'critic score of SR forward + backward',
        'identity loss (FR) forward + backward', 'FR ArcFace step on cat(HR, SR)'}
    assert all(p['repeats'] == 2 and p['median_s'] > 0 for p in res['parts'].values())
    total = sum(p['median_s'] for p in res['parts'].values())
    assert res['sum_of_parts_median_s'] == pytest.approx(total)
    assert res['ratio_joint_to_parts'] == pytest.approx(res['joint_iteration']['median_s'] / total)
    assert np.isfinite(res['ratio_joint_to_parts']) and res['joint_iteration']['repeats'] == 2


@pytest.mark.parametrize('crop_border, y_channel, size', [(0, False, 112), (8, True, 128), (3, False, 40)])
def test_batched_psnr_ssim_equal_basicsr_per_image(crop_border: int, y_channel: bool, size: int) -> None:
    """The batched PSNR / SSIM (one separable filter over stacked images) equal BasicSR's per-image
    ``calculate_psnr`` / ``calculate_ssim`` on BGR HWC uint8 images, RGB or Y, with and without a crop."""
    from fhgan_plugin.utils.metrics import psnr_ssim_batch
    g = torch.Generator().manual_seed(0)
    gt = torch.randint(0, 256, (5, 3, size, size), generator=g, dtype=torch.uint8)
    smooth = torch.nn.functional.avg_pool2d(gt.float(), 5, 1, 2)  # structured, not white noise
    gt = smooth.round().to(torch.uint8)
    sr = (smooth + torch.randn(smooth.shape, generator=g) * 6).clamp(0, 255).round().to(torch.uint8)
    sr[4] = gt[4]  # identical pair: inf dB, SSIM 1
    p, s = psnr_ssim_batch(sr, gt, crop_border, y_channel)
    a = sr.permute(0, 2, 3, 1).flip(-1).numpy()
    b = gt.permute(0, 2, 3, 1).flip(-1).numpy()
    ref_p = [calculate_psnr(x, y, crop_border, test_y_channel=y_channel) for x, y in zip(a, b)]
    ref_s = [calculate_ssim(x, y, crop_border, test_y_channel=y_channel) for x, y in zip(a, b)]
    assert p[:4] == pytest.approx(ref_p[:4], abs=1e-10) and p[4] == ref_p[4] == float('inf')
    assert s == pytest.approx(ref_s, abs=1e-10) and s[4] == pytest.approx(1.0)
    assert all(0 < v < 0.99 for v in s[:4])


def test_batched_ssim_rejects_images_smaller_than_the_window() -> None:
    from fhgan_plugin.utils.metrics import psnr_ssim_batch
    x = torch.zeros(1, 3, 24, 24, dtype=torch.uint8)
    with pytest.raises(ValueError, match='at least 11x11 after a crop of 8'):
        psnr_ssim_batch(x, x, crop_border=8)


def test_keep_freed_memory_stops_the_page_faults_of_repeated_large_tensors() -> None:
    """In a fresh process, allocating and freeing a 64 MiB tensor 20 times costs ~16k minor page faults (one per
    4 KiB page) in every round without the tuning (glibc mmaps and unmaps it) and at most one round's worth with
    it (the heap grows once, then the block is reused); FHGAN_MALLOC_TUNING=0 leaves the allocator alone."""
    import platform
    import subprocess
    import sys
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        pytest.skip('glibc only')
    code = ('import resource, torch\nfrom fhgan_plugin.utils.allocator import keep_freed_memory\n'
            'on = keep_freed_memory()\nx = torch.ones(16 << 20)\ndel x\n'
            'f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n'
            'for _ in range(20):\n    x = torch.ones(16 << 20)\n    del x\n'
            'print(on, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n')
    out = {}
    for flag in ('1', '0'):
        env = {**os.environ, 'FHGAN_MALLOC_TUNING': flag}
        on, faults = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                                    check=True).stdout.split()
        out[flag] = (on == 'True', int(faults))
    assert out['1'][0] and not out['0'][0]
    assert out['0'][1] > 20 * 15000
    assert out['1'][1] < 16384 + 2000


def test_evaluation_macs_count_each_pass_as_computed_by_hand() -> None:
    """The arithmetic floor of scripts/benchmark.py: LPIPS-VGG at 112x112 is 9 * sum(H^2 * C_in * C_out) over VGG16's
    13 3x3 convolutions for each of the two images, plus its five 1x1 linear heads on the difference; the FR pass
    with mirror images is twice the plain one; every pass scales with its image count."""
    lpips = pytest.importorskip('lpips')
    from fhgan_plugin.evaluation.lpips_metric import _LPIPS01
    from fhgan_plugin.utils.complexity import count_call_macs, count_macs, evaluation_macs
    vgg = 9 * (112 ** 2 * (3 * 64 + 64 * 64) + 56 ** 2 * (64 * 128 + 128 * 128)
               + 28 ** 2 * (128 * 256 + 2 * 256 * 256) + 14 ** 2 * (256 * 512 + 2 * 512 * 512) + 7 ** 2 * 3 * 512 * 512)
    heads = 112 ** 2 * 64 + 56 ** 2 * 128 + 28 ** 2 * 256 + 14 ** 2 * 512 + 7 ** 2 * 512
    assert vgg == 3_836_657_664
    lp = _LPIPS01(lpips.LPIPS(net='vgg', pnet_rand=True, verbose=False))
    fr = FaceEmbedder({'type': 'FHMobileFaceNet'}, flip_concat=True)
    fr_plain = FaceEmbedder({'type': 'FHMobileFaceNet'})
    sr = DSNet(**TINY)
    macs = evaluation_macs(sr, fr, lp, 28, 112, images=10, lpips_images=3)
    one_face = count_call_macs(fr_plain.eval(), torch.zeros(1, 3, 112, 112))
    assert one_face > 1e8  # MobileFaceNet on the 112x96 crop: ~0.19 GMACs
    assert macs['lpips'] == 3 * (2 * vgg + heads)
    assert macs['fr'] == 10 * 2 * one_face
    assert macs['sr'] == 10 * count_macs(sr, (1, 3, 28, 28)) > 0
    assert macs['total'] == macs['sr'] + macs['fr'] + macs['lpips']
    assert evaluation_macs(None, None, lp, 28, 112, images=10, lpips_images=1) == \
        {'sr': 0, 'fr': 0, 'lpips': 2 * vgg + heads, 'total': 2 * vgg + heads}
