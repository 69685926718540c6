"""GFPGAN-style model tests: tiny options, optimize_parameters, log keys, which networks change."""
from __future__ import annotations

import os
from copy import deepcopy

import pytest
import torch
from basicsr.models import build_model

from fhgan_plugin.errors import OptionError
from fhgan_plugin.models import NonFiniteLossError

TINY_G = {'type': 'DSNet', 'num_feat': 8, 'num_block': 2, 'num_layer': 3, 'growth': 4, 'num_bottleneck': 8,
          'upscale': 4}
TINY_FR = {'type': 'FaceEmbedder', 'backbone': {'type': 'FHIResNet', 'depth': 18, 'num_features': 16,
                                               'input_size': 32}}


def base_opt(tmp_path, model_type: str) -> dict:  # noqa: ANN001
    """Tiny options of ``model_type`` (its ``train:`` block holds only the keys that model reads)."""
    return retype(_base_opt(str(tmp_path), model_type), model_type)


def retype(opt: dict, model_type: str) -> dict:
    """``opt`` for ``model_type``, keeping only the ``train:`` keys that model reads."""
    from basicsr.utils.registry import MODEL_REGISTRY
    valid = MODEL_REGISTRY.get(model_type).TRAIN_KEYS
    return {**opt, 'model_type': model_type, 'train': {k: v for k, v in opt['train'].items() if k in valid}}


def _base_opt(root: str, model_type: str) -> dict:
    return {
        'name': 'tiny', 'model_type': model_type, 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
        'rank': 0, 'world_size': 1, 'auto_resume': False,
        'network_g': dict(TINY_G),
        'network_d': {'type': 'FHCritic', 'num_feat': 8, 'num_down': 3, 'input_size': 32},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None,
                 'models': os.path.join(root, 'models'), 'training_states': os.path.join(root, 'states'),
                 'visualization': os.path.join(root, 'vis'), 'log': root},
        'train': {
            'ema_decay': 0,
            'optim_g': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.5, 0.9]},
            'optim_d': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.5, 0.9]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
            'pixel_opt': {'type': 'MSELoss', 'loss_weight': 1.0, 'reduction': 'mean'},
            'gan_opt': {'type': 'WGANGPLoss', 'loss_weight': 1e-2, 'gp_weight': 10.0},
            'net_d_iters': 1, 'net_d_init_iters': 0,
        },
    }


def batch(labels: bool = False) -> dict:
    torch.manual_seed(1)
    data = {'lq': torch.rand(4, 3, 8, 8), 'gt': torch.rand(4, 3, 32, 32)}
    if labels:
        data['label'] = torch.tensor([0, 1, 2, 1])
    return data


def snapshot(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def changed(net: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def assert_finite_keys(log: dict, keys: list[str]) -> None:
    for k in keys:
        assert k in log, f'{k} missing from {sorted(log)}'
        assert torch.isfinite(torch.as_tensor(log[k])).all(), k


def test_stage2_gan_model_with_frozen_identity(tmp_path) -> None:  # noqa: ANN001
    opt = base_opt(tmp_path, 'FaceGANModel')
    opt['train']['identity_opt'] = {'type': 'IdentityLoss', 'network_fr': {k: v for k, v in TINY_FR.items()
                                                                            if k != 'type'}, 'loss_weight': 0.1}
    torch.manual_seed(0)
    model = build_model(opt)
    g, d, fr = snapshot(model.net_g), snapshot(model.net_d), snapshot(model.cri_identity.embedder)
    model.feed_data(batch())
    model.optimize_parameters(1)
    assert_finite_keys(model.get_current_log(), ['l_d_wgan_gp', 'l_d_gp', 'w_dist', 'out_d_real', 'out_d_fake',
                                                 'l_g_pix', 'l_g_gan', 'l_g_identity', 'l_g_total'])
    assert changed(model.net_g, g) and changed(model.net_d, d)
    assert not changed(model.cri_identity.embedder, fr)


def test_stage2_n_critic(tmp_path) -> None:  # noqa: ANN001
    opt = base_opt(tmp_path, 'FaceGANModel')
    opt['train']['net_d_iters'] = 2
    model = build_model(opt)
    g = snapshot(model.net_g)
    model.feed_data(batch())
    model.optimize_parameters(1)  # critic only
    assert 'l_g_total' not in model.get_current_log() and not changed(model.net_g, g)
    model.optimize_parameters(2)  # critic + generator
    assert 'l_g_total' in model.get_current_log() and changed(model.net_g, g)


def fhgan_opt(tmp_path) -> dict:  # noqa: ANN001
    opt = base_opt(tmp_path, 'FHGANModel')
    opt['network_fr'] = deepcopy(TINY_FR)
    opt['network_head'] = {'type': 'ArcMarginHead', 'embedding_size': 16, 'num_classes': 3, 's': 64.0, 'm': 0.5}
    opt['train'].update(
        identity_opt={'type': 'IdentityLoss', 'loss_weight': 0.1},
        arcface_opt={'type': 'ArcFaceLoss', 'loss_weight': 1.0},
        optim_fr={'type': 'SGD', 'lr': 1e-2, 'momentum': 0.9},
        scheduler_fr={'type': 'MultiStepLR', 'milestones': [50], 'gamma': 0.1})
    return opt


def test_stage3_joint_fhgan_updates_all_three(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = build_model(fhgan_opt(tmp_path))
    nets = {n: snapshot(getattr(model, n)) for n in ('net_g', 'net_d', 'net_fr', 'net_head')}
    model.feed_data(batch(labels=True))
    model.optimize_parameters(1)
    assert_finite_keys(model.get_current_log(), ['l_d_wgan_gp', 'l_g_pix', 'l_g_gan', 'l_g_identity', 'l_g_total',
                                                 'l_fr_arcface', 'acc_fr'])
    for name, before in nets.items():
        assert changed(getattr(model, name), before), name
    assert len(model.optimizers) == 3 and isinstance(model.optimizers[2], torch.optim.SGD)
    assert [type(s).__name__ for s in model.schedulers] == ['MultiStepRestartLR'] * 3
    assert model.schedulers[2].milestones == {50: 1}


def test_stage3_save_and_resume_on_cpu(tmp_path) -> None:  # noqa: ANN001
    from basicsr.utils import check_resume
    opt = fhgan_opt(tmp_path)
    os.makedirs(opt['path']['models'])
    os.makedirs(opt['path']['training_states'])
    model = build_model(opt)
    model.feed_data(batch(labels=True))
    model.optimize_parameters(1)
    model.save(0, 1)
    for label in ('g', 'd', 'fr', 'head'):
        assert os.path.isfile(os.path.join(opt['path']['models'], f'net_{label}_1.pth'))
    state = torch.load(os.path.join(opt['path']['training_states'], '1.state'), weights_only=False)
    opt2 = fhgan_opt(tmp_path)
    opt2['path']['resume_state'] = 'x'
    check_resume(opt2, state['iter'])
    resumed = build_model(opt2)
    resumed.resume_training(state)
    for name in ('net_g', 'net_d', 'net_fr', 'net_head'):
        for a, b in zip(getattr(model, name).state_dict().values(), getattr(resumed, name).state_dict().values()):
            assert torch.equal(a, b), name
    assert resumed.optimizer_fr.state_dict()['state'].keys() == model.optimizer_fr.state_dict()['state'].keys()


def test_stage1_face_recognition_model(tmp_path) -> None:  # noqa: ANN001
    opt = fhgan_opt(tmp_path)
    opt['train']['scheduler'] = opt['train'].pop('scheduler_fr')
    opt = retype(opt, 'FaceRecognitionModel')
    model = build_model(opt)
    fr, head = snapshot(model.net_fr), snapshot(model.net_head)
    model.feed_data(batch(labels=True))
    model.optimize_parameters(1)
    assert_finite_keys(model.get_current_log(), ['l_fr_arcface', 'acc_fr'])
    assert changed(model.net_fr, fr) and changed(model.net_head, head)


def test_non_finite_loss_stops_with_a_clear_message(tmp_path) -> None:  # noqa: ANN001
    model = build_model(base_opt(tmp_path, 'FaceGANModel'))
    d = snapshot(model.net_d)
    data = batch()
    data['gt'][0, 0, 0, 0] = float('nan')
    model.feed_data(data)
    with pytest.raises(NonFiniteLossError, match='l_d_wgan_gp = nan at iteration 7'):
        model.optimize_parameters(7)
    assert not changed(model.net_d, d)


def test_gan_model_rejects_other_gan_losses(tmp_path) -> None:  # noqa: ANN001
    opt = base_opt(tmp_path, 'FaceGANModel')
    opt['train']['gan_opt'] = {'type': 'GANLoss', 'gan_type': 'wgan', 'loss_weight': 1.0}
    with pytest.raises(TypeError, match='WGANGPLoss'):
        build_model(opt)


def _tiny_pairs(tmp_path) -> tuple[str, str]:  # noqa: ANN001
    from tests.conftest import write_faces
    root = str(tmp_path / 'pairs_imgs')
    write_faces(os.path.join(root, '_src'), 8, size=32, seed=9)
    lines = ['2\t2']
    names = []
    for k in range(8):
        name = f'P{k // 2}'
        os.makedirs(os.path.join(root, name), exist_ok=True)
        os.replace(os.path.join(root, '_src', f'id{k % 3}', f'{k:03d}.png'),
                   os.path.join(root, name, f'{name}_{k % 2 + 1:04d}.png'))
        names.append(name)
    lines += ['P0\t1\t2', 'P1\t1\t2', 'P0\t1\tP1\t2', 'P2\t1\tP3\t1',
              'P2\t1\t2', 'P3\t1\t2', 'P1\t1\tP2\t2', 'P3\t2\tP0\t1']
    pairs = tmp_path / 'pairs.txt'
    pairs.write_text('\n'.join(lines) + '\n')
    return root, str(pairs)


def test_pair_validation_reports_psnr_ssim_verification_and_grid(tmp_path) -> None:  # noqa: ANN001
    from basicsr.data import build_dataset
    root, pairs = _tiny_pairs(tmp_path)
    opt = base_opt(tmp_path, 'FaceSRModel')
    opt['is_train'] = False
    opt['val'] = {'save_img': True, 'num_save': 3,
                  'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
                              'ssim': {'type': 'calculate_ssim', 'crop_border': 0},
                              'verification': {'type': 'calculate_verification_accuracy'}},
                  'fr': {'backbone': {'type': 'FHIResNet', 'depth': 18, 'num_features': 16, 'input_size': 32}}}
    model = build_model(opt)
    ds = build_dataset({'name': 'tinypairs', 'type': 'VerificationPairsDataset', 'dataroot_gt': root,
                        'pairs_file': pairs, 'scale': 4, 'phase': 'val'})
    loader = torch.utils.data.DataLoader(ds, batch_size=1)
    model.validation(loader, 5, None, True)
    res = model.metric_results
    assert set(res) == {'psnr', 'ssim', 'verification'}
    assert 0 < res['ssim'] <= 1 and 0 <= res['verification'] <= 100
    # independent recomputation over the unique images
    from fhgan_plugin.utils.metrics import psnr_ssim_batch
    items = [ds.image_item(r) for r in ds.images]
    sr = model.super_resolve(torch.stack([it['lq'] for it in items])).cpu()
    p, s = psnr_ssim_batch(sr, torch.stack([it['gt'] for it in items]))
    assert res['psnr'] == pytest.approx(sum(p) / len(p)) and res['ssim'] == pytest.approx(sum(s) / len(s))
    assert model.best_metric_results['tinypairs']['psnr']['iter'] == 5
    import json
    hist = [json.loads(ln) for ln in open(os.path.join(opt['path']['log'], 'validation_metrics.jsonl'))]
    assert len(hist) == 1 and hist[0]['iter'] == 5 and hist[0]['dataset'] == 'tinypairs'
    assert hist[0]['psnr'] == pytest.approx(res['psnr']) and hist[0]['images'] == len(ds.images)
    assert 0 < hist[0]['seconds'] < 60
    grid = os.path.join(opt['path']['visualization'], 'tinypairs', 'grid_hr_bicubic_sr_5.png')
    import cv2
    assert cv2.imread(grid).shape == (3 * 32, 3 * 32, 3)
    opt['val']['fr'] = None
    with pytest.raises(KeyError, match='val.fr'):
        build_model(opt).validation(loader, 6, None, False)


def test_gallery_probe_validation_scores_sr_probes_against_hr_gallery(tmp_path) -> None:  # noqa: ANN001
    """``protocol: gallery-probe`` with a random degradation: the accuracy is the k-fold protocol on cos(SR probe,
    HR gallery), recomputed here from the model's own SR and FR, and the probes are the same on a second run."""
    from basicsr.data import build_dataset

    from fhgan_plugin.metrics.verification import gallery_probe_scores, kfold_verification, pair_arrays
    root, pairs = _tiny_pairs(tmp_path)
    opt = base_opt(tmp_path, 'FaceSRModel')
    opt['is_train'] = False
    opt['val'] = {'metrics': {'verification': {'type': 'calculate_verification_accuracy'}},
                  'fr': {'backbone': {'type': 'FHIResNet', 'depth': 18, 'num_features': 16, 'input_size': 32}}}
    model = build_model(opt)
    ds_opt = {'name': 'gp', 'type': 'VerificationPairsDataset', 'dataroot_gt': root, 'pairs_file': pairs, 'scale': 4,
              'phase': 'val', 'protocol': 'gallery-probe', 'degradation': {'preset': 'surveillance'}}
    ds = build_dataset(ds_opt)
    model.validation(torch.utils.data.DataLoader(ds, batch_size=1), 1, None, False)
    items = [ds.image_item(r) for r in ds.images]
    assert all(torch.equal(a['lq'], b['lq']) for a, b in zip(items, [build_dataset(ds_opt).image_item(r)
                                                                     for r in ds.images]))
    fr = model.validation_embedder().eval()
    with torch.no_grad():
        sr = model.super_resolve(torch.stack([it['lq'] for it in items])).cpu()
        e_sr, e_hr = fr(sr), fr(torch.stack([it['gt'] for it in items]))
    i1, i2, same, folds = pair_arrays(ds.images, ds.pairs)
    want = kfold_verification(gallery_probe_scores(e_sr, e_hr, i1, i2), same, folds)
    assert model.metric_results['verification'] == pytest.approx(100 * want.accuracy)
    with pytest.raises(ValueError, match="protocol 'probe-probe' is not one of"):
        build_dataset({**ds_opt, 'protocol': 'probe-probe'})


@pytest.mark.parametrize('model_type', ['FaceSRModel', 'FHGANModel', 'FaceRecognitionModel'])
def test_bfloat16_autocast_and_channels_last_train_every_network(tmp_path, model_type: str) -> None:  # noqa: ANN001
    opt = fhgan_opt(tmp_path)
    if model_type == 'FaceRecognitionModel':
        opt['train']['scheduler'] = opt['train'].pop('scheduler_fr')
    opt = retype(opt, model_type)
    opt['train'].update(autocast='bfloat16', channels_last=True)
    torch.manual_seed(0)
    model = build_model(opt)
    assert model.autocast_dtype is torch.bfloat16 and model.channels_last
    names = {'FaceSRModel': ['net_g'], 'FHGANModel': ['net_g', 'net_d', 'net_fr', 'net_head'],
             'FaceRecognitionModel': ['net_fr', 'net_head']}[model_type]
    first_conv = next(p for p in getattr(model, names[0]).parameters() if p.dim() == 4)
    assert first_conv.is_contiguous(memory_format=torch.channels_last)
    opt_params = {id(p) for o in model.optimizers for g in o.param_groups for p in g['params']}
    assert id(first_conv) in opt_params  # conversion kept the Parameter objects the optimizers hold
    before = {n: snapshot(getattr(model, n)) for n in names}
    model.feed_data(batch(labels=True))
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert log and all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values())
    for n in names:
        assert changed(getattr(model, n), before[n]), n
        assert all(p.dtype == torch.float32 for p in getattr(model, n).parameters()), n  # float32 master weights
    if model_type != 'FaceRecognitionModel':
        assert model.output.dtype == torch.bfloat16  # the forward pass did run under autocast


def test_autocast_option_refuses_float16(tmp_path) -> None:  # noqa: ANN001
    opt = base_opt(tmp_path, 'FaceSRModel')
    opt['train']['autocast'] = 'float16'
    with pytest.raises(ValueError, match='bfloat16'):
        build_model(opt)


def test_loss_gradients_script_measures_each_term(tmp_path) -> None:  # noqa: ANN001
    """docs/lab/scripts/loss_gradients.py: one gradient norm and value per weighted generator term; a term's norm and
    value scale with its loss_weight; nothing is updated; held-out values are batch-size independent."""
    from tests.conftest import lab_script
    lab = lab_script('loss_gradients')
    gradient_norms, term_values = lab.gradient_norms, lab.term_values

    def measure(weight: float) -> tuple[dict, dict, dict]:
        opt = base_opt(tmp_path, 'FaceGANModel')
        opt['train']['identity_opt'] = {'type': 'IdentityLoss', 'loss_weight': weight,
                                        'network_fr': {k: v for k, v in TINY_FR.items() if k != 'type'}}
        torch.manual_seed(0)
        model = build_model(opt)
        before = snapshot(model.net_g)
        norms, values = gradient_norms(model, [batch()])
        assert not changed(model.net_g, before)
        assert all(p.grad is None for p in model.net_g.parameters())
        data = [{'lq': b['lq'][i], 'gt': b['gt'][i]} for b in [batch()] for i in range(4)]
        held = term_values(model, data, batch_size=3)
        assert held == pytest.approx(term_values(model, data, batch_size=4), rel=1e-5)
        return norms, values, held

    norms1, values1, held1 = measure(0.1)
    norms2, values2, held2 = measure(0.4)
    assert set(norms1) == set(values1) == set(held1) == {'l_g_pix', 'l_g_gan', 'l_g_identity'}
    assert all(v > 0 and torch.isfinite(torch.tensor(v)) for v in norms1.values())
    assert norms2['l_g_identity'] == pytest.approx(4 * norms1['l_g_identity'], rel=1e-4)
    assert values2['l_g_identity'] == pytest.approx(4 * values1['l_g_identity'], rel=1e-4)
    assert norms2['l_g_pix'] == pytest.approx(norms1['l_g_pix'], rel=1e-5)
    assert held1['l_g_pix'] == pytest.approx(values1['l_g_pix'], rel=1e-5)  # same 4 faces, one batch


def test_gan_model_honours_ema_decay(tmp_path) -> None:  # noqa: ANN001
    """``train.ema_decay`` as BasicSR's SRModel does it: net_g_ema trained, saved as params_ema, validated."""
    opt = base_opt(tmp_path, 'FaceGANModel')
    opt['train']['ema_decay'] = 0.999
    model = build_model(opt)
    ema0 = snapshot(model.net_g_ema)
    assert all(torch.equal(a, b) for a, b in zip(ema0, model.net_g.parameters())), 'EMA starts as a copy of G'
    gs = []
    for it in (1, 2):
        model.feed_data(batch())
        model.optimize_parameters(it)
        gs.append(snapshot(model.net_g))
    # by hand: ema_t = 0.999 * ema_{t-1} + 0.001 * G_t after each generator step
    for e, e0, g1, g2 in zip(model.net_g_ema.parameters(), ema0, *gs):
        assert torch.allclose(e, 0.999 * (0.999 * e0 + 0.001 * g1) + 0.001 * g2, atol=1e-7)
    assert changed(model.net_g_ema, ema0) and changed(model.net_g, ema0)
    model.save(0, 2)
    saved = torch.load(os.path.join(opt['path']['models'], 'net_g_2.pth'), weights_only=True)
    assert set(saved) == {'params', 'params_ema'}
    assert all(torch.equal(saved['params_ema'][k], v) for k, v in model.net_g_ema.state_dict().items())
    assert model.super_resolve(batch()['lq']).shape == (4, 3, 32, 32)
    opt['train']['ema_decay'] = 1.5
    with pytest.raises(OptionError, match=r'ema_decay must be a number in \[0, 1\)'):
        build_model(opt)


@pytest.mark.parametrize('model_type', ['FaceSRModel', 'FaceGANModel', 'FHGANModel'])
def test_misspelt_train_key_stops_with_the_valid_keys(tmp_path, model_type: str) -> None:  # noqa: ANN001
    opt = fhgan_opt(tmp_path) if model_type == 'FHGANModel' else base_opt(tmp_path, model_type)
    opt['train']['pixel_optt'] = opt['train']['pixel_opt']
    with pytest.raises(OptionError, match=f'{model_type} does not read train.pixel_optt; valid train keys: .*pix'):
        build_model(opt)


class _PairPerceptual(torch.nn.Module):
    """BasicSR's PerceptualLoss contract (a (perceptual, style) pair, style None) without VGG weights."""

    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, None]:
        return (x - gt).abs().mean(), None


@pytest.mark.parametrize('model_type', ['FaceSRModel', 'FaceGANModel'])
@pytest.mark.parametrize('kind', ['pair', 'tensor'])
def test_one_perceptual_loss_contract_in_every_model(tmp_path, model_type: str, kind: str) -> None:  # noqa: ANN001
    model = build_model(base_opt(tmp_path, model_type))
    model.cri_perceptual = _PairPerceptual() if kind == 'pair' else (lambda x, gt: (x - gt).abs().mean())
    model.feed_data(batch())
    model.optimize_parameters(1)
    log = model.get_current_log()
    key = 'l_percep' if model_type == 'FaceSRModel' else 'l_g_percep'
    # the logged term is the loss's value on the step's output (the generator output before its update)
    assert log[key] == pytest.approx((model.output - model.gt).abs().mean().item(), rel=1e-5)
    assert not any('style' in k for k in log)


def test_each_step_updates_only_its_own_networks(tmp_path) -> None:  # noqa: ANN001
    """Eq. 6-10's split: the generator step leaves no gradient in the critic or the FR network, and the
    recognition step leaves none in the generator (their .grad tensors are exactly as before the step)."""
    model = build_model(fhgan_opt(tmp_path))
    model.feed_data(batch(labels=True))
    model.current_iter = 1
    with torch.set_grad_enabled(True):
        model.output = model.net_g(model.lq)
    model.critic_step()

    def grads(net: torch.nn.Module) -> list:
        return [None if p.grad is None else p.grad.clone() for p in net.parameters()]

    def same(a: list, b: list) -> bool:
        return all((x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
                   for x, y in zip(a, b))

    d_before, fr_before = grads(model.net_d), grads(model.net_fr) + grads(model.net_head)
    model.generator_step()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.net_g.parameters())
    assert same(grads(model.net_d), d_before), 'the generator step wrote into the critic'
    assert same(grads(model.net_fr) + grads(model.net_head), fr_before), 'the generator step wrote into FR'
    g_before = grads(model.net_g)
    model.recognition_step()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.net_fr.parameters())
    assert same(grads(model.net_g), g_before), 'the recognition step wrote into the generator'


def test_identity_loss_lowers_the_identity_distance(tmp_path) -> None:  # noqa: ANN001
    """Eq. 10's λ4 does what the paper claims: two tiny runs with the same seed, data and steps, one with λ4 = 1 and
    one with λ4 = 0; measured by the (frozen) identity network, the λ4 > 0 generator's faces are nearer the HR
    faces in embedding space (squared distance of unit embeddings; measured 0.35 against 0.82)."""
    def identity_distance(weight: float) -> float:
        opt = base_opt(tmp_path / f'w{weight}', 'FaceGANModel')
        opt['train']['identity_opt'] = {'type': 'IdentityLoss', 'loss_weight': weight,
                                        'network_fr': {k: v for k, v in TINY_FR.items() if k != 'type'}}
        torch.manual_seed(0)
        model = build_model(opt)
        data = batch()
        for it in range(1, 31):
            model.feed_data(data)
            model.optimize_parameters(it)
        judge = model.cri_identity.embedder.eval()
        with torch.no_grad():
            sr = model.net_g(data['lq']).clamp(0, 1)
            return (judge.embed(sr) - judge.embed(data['gt'])).pow(2).sum(1).mean().item()

    with_identity, without = identity_distance(1.0), identity_distance(0.0)
    assert with_identity < 0.6 * without, (with_identity, without)
