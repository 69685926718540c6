"""Critic, WGAN-GP, ArcFace head/loss, IR-ResNet, MobileFaceNet, identity and perceptual losses."""
from __future__ import annotations

import math
import os

import pytest
import torch
from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY
from torch import nn

from fhgan_plugin.archs import ArcMarginHead, FaceEmbedder, FHCritic, FHIResNet, FHMobileFaceNet
from fhgan_plugin.losses import ArcFaceLoss, FHPerceptualLoss, IdentityLoss, WGANGPLoss, gradient_penalty
from fhgan_plugin.losses.identity_loss import random_view
from fhgan_plugin.utils.checkpoint import CheckpointMismatchError, load_checkpoint
from tests.fixtures_iresnet34 import expected_keys, expected_param_count


@pytest.mark.parametrize('size', [112, 128])
def test_critic_shapes_and_no_norm(size: int) -> None:
    net = FHCritic(num_feat=8, input_size=size)
    out = net(torch.rand(3, 3, size, size))
    assert out.shape == (3, 1) and torch.isfinite(out).all()
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) for m in net.modules())
    with pytest.raises(ValueError, match='input_size'):
        net(torch.rand(1, 3, size + 16, size + 16))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.w = nn.Parameter(torch.randn(*shape) * 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1, keepdim=True)


def test_gradient_penalty_is_per_sample_norm() -> None:
    d = LinearCritic((3, 8, 8))
    real, fake = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    gp = gradient_penalty(d, real, fake)
    expected = (d.w.detach().norm() - 1) ** 2
    assert torch.allclose(gp, expected.expand(4), rtol=1e-5)
    # the per-pixel norm (BasicSR's gradient_penalty_loss) gives a different number
    per_pixel = ((d.w.detach().norm(2, dim=0) - 1) ** 2).mean()
    assert not torch.isclose(per_pixel, expected, rtol=1e-2)
    # the penalty trains the critic
    gp.mean().backward()
    assert d.w.grad is not None and d.w.grad.abs().sum() > 0


def test_wgan_gp_losses_weight_and_reduction() -> None:
    d = LinearCritic((3, 8, 8))
    real, fake = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    loss = WGANGPLoss(loss_weight=0.5, gp_weight=10.0)
    d_real, d_fake = d(real).squeeze(1), d(fake).squeeze(1)
    total, parts = loss.critic_loss(d, real, fake)
    gp = (d.w.detach().norm() - 1) ** 2
    assert torch.allclose(total, (d_fake - d_real).mean() + 10 * gp, rtol=1e-5)
    assert torch.allclose(parts['wasserstein'], (d_real - d_fake).mean())
    assert torch.allclose(loss(d_fake), -0.5 * d_fake.mean())
    assert torch.allclose(WGANGPLoss(reduction='sum')(d_fake), -d_fake.sum())
    assert WGANGPLoss(reduction='none')(d_fake).shape == (4,)
    with pytest.raises(ValueError, match='reduction'):
        WGANGPLoss(reduction='avg')


def test_arcface_logits_by_hand() -> None:
    head = ArcMarginHead(embedding_size=2, num_classes=3, s=64.0, m=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]))
    theta = 0.6
    emb = torch.tensor([[3 * math.cos(theta), 3 * math.sin(theta)]])  # angle 0.6 from class 0
    logits = head(emb, torch.tensor([0]))
    expected = [64 * math.cos(theta + 0.5), 64 * math.cos(math.pi / 2 - theta), 64 * math.cos(math.pi - theta)]
    assert torch.allclose(logits, torch.tensor([expected]), atol=1e-4)
    # target class 1 instead: margin moves to it
    logits = head(emb, torch.tensor([1]))
    expected = [64 * math.cos(theta), 64 * math.cos(math.pi / 2 - theta + 0.5), 64 * math.cos(math.pi - theta)]
    assert torch.allclose(logits, torch.tensor([expected]), atol=1e-4)
    # theta + m > pi: an embedding at angle pi - 0.3 = 2.84 > pi - 0.5 from class 2
    # -> the linear continuation cos(theta) - m sin(m), not cos(theta + m)
    emb2 = torch.tensor([[math.cos(0.3), math.sin(0.3)]])
    t2 = math.pi - 0.3
    logits = head(emb2, torch.tensor([2]))
    assert logits[0, 2].item() == pytest.approx(64 * (math.cos(t2) - 0.5 * math.sin(0.5)), abs=1e-4)
    assert logits[0, 2].item() != pytest.approx(64 * math.cos(t2 + 0.5), abs=1e-2)
    # easy margin: no margin where cos(theta) <= 0 (theta = 2.54 or 2.84 from class 2)
    easy = ArcMarginHead(2, 3, easy_margin=True)
    easy.weight.data.copy_(head.weight.data)
    assert easy(emb2, torch.tensor([2]))[0, 2].item() == pytest.approx(64 * math.cos(t2), abs=1e-4)
    assert easy(emb, torch.tensor([0]))[0, 0].item() == pytest.approx(64 * math.cos(theta + 0.5), abs=1e-4)


def test_arcface_loss_weight_reduction() -> None:
    logits, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    ce = nn.functional.cross_entropy(logits, labels, reduction='none')
    assert torch.allclose(ArcFaceLoss(loss_weight=2.0)(logits, labels), 2 * ce.mean())
    assert torch.allclose(ArcFaceLoss(reduction='sum')(logits, labels), ce.sum())
    assert ArcFaceLoss(reduction='none')(logits, labels).shape == (5,)


def test_iresnet34_matches_insightface_keys_and_count() -> None:
    net = FHIResNet(depth=34)
    assert list(net.state_dict().keys()) == expected_keys()
    assert sum(p.numel() for p in net.parameters()) == expected_param_count() == 34_139_328
    net.eval()
    assert net(torch.rand(2, 3, 112, 112)).shape == (2, 512)


def test_iresnet_other_depths_and_tiny_gradient() -> None:
    for depth, blocks in [(18, 8), (50, 24), (100, 49)]:
        with torch.device('meta'):  # structure only, no memory or init cost
            net = FHIResNet(depth)
        assert sum(1 for k in net.state_dict() if k.endswith('.conv1.weight') and k.startswith('layer')) == blocks
    net = FHIResNet(18, num_features=16)
    out = net(torch.rand(2, 3, 112, 112))
    out.square().mean().backward()
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    assert all(p.grad is not None for _, p in trainable)
    assert not net.features.weight.requires_grad


def test_checkpoint_mismatch_lists_keys(tmp_path) -> None:  # noqa: ANN001
    net = FHIResNet(18, num_features=16)
    state = net.state_dict()
    state.pop('fc.bias')
    state['extra.weight'] = torch.zeros(1)
    path = str(tmp_path / 'bad.pth')
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match=r"missing keys \(1\): \['fc.bias'\][\s\S]*extra.weight"):
        load_checkpoint(FHIResNet(18, num_features=16), path)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint(net, str(tmp_path / 'nope.pth'))


def test_shared_mobilefacenet_loads_strictly(shared: str) -> None:
    path = os.path.join(shared, 'models', 'mobilefacenet_casia_068.pth')
    emb = FaceEmbedder({'type': 'FHMobileFaceNet'}, pretrain_path=path).eval()
    raw = torch.load(path, map_location='cpu', weights_only=True)['net_state_dict']
    assert set(emb.backbone.state_dict()) == set(raw)
    with torch.no_grad():
        out = emb(torch.rand(3, 3, 112, 112))
    assert out.shape == (3, 128) and torch.isfinite(out).all()


def test_embedder_loads_a_saved_embedder_checkpoint(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(1)
    trained = FaceEmbedder({'type': 'FHMobileFaceNet', 'embedding_size': 16}).eval()
    path = str(tmp_path / 'net_fr_300.pth')
    torch.save({'params': trained.state_dict()}, path)  # what BasicSR's save_network writes for a stage-1 net_fr
    assert all(k.startswith('backbone.') for k in trained.state_dict())
    again = FaceEmbedder({'type': 'FHMobileFaceNet', 'embedding_size': 16}, pretrain_path=path).eval()
    x = torch.rand(2, 3, 112, 112)
    with torch.no_grad():
        assert torch.equal(again(x), trained(x))


def _tiny_embedder() -> FaceEmbedder:
    torch.manual_seed(0)
    return FaceEmbedder({'type': 'FHMobileFaceNet', 'embedding_size': 16})


def test_identity_loss_zero_for_identical_and_gradient_path() -> None:
    loss = IdentityLoss(embedder=_tiny_embedder(), frozen=True, loss_weight=2.0)
    hr = torch.rand(2, 3, 112, 112)
    assert loss(hr, hr).item() == pytest.approx(0.0, abs=1e-10)
    gen = nn.Conv2d(3, 3, 3, 1, 1)
    sr = gen(hr)
    value = loss(sr, hr)
    assert value.item() > 0
    value.backward()
    assert gen.weight.grad is not None and gen.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.embedder.parameters())
    loss.train()
    assert not loss.embedder.training


def test_identity_loss_trainable_fr_and_options() -> None:
    emb = _tiny_embedder()
    loss = IdentityLoss(embedder=emb, frozen=False, distance='cosine', reduction='none')
    hr = torch.rand(2, 3, 112, 112)
    out = loss(hr.flip(-1), hr)
    assert out.shape == (2, )
    out.sum().backward()
    assert any(p.grad is not None for p in emb.parameters())
    e1 = nn.functional.normalize(emb(hr * 0.5), dim=1)
    e2 = nn.functional.normalize(emb(hr), dim=1)
    mse = IdentityLoss(embedder=emb, frozen=False, reduction='sum', loss_weight=3.0)(hr * 0.5, hr)
    assert torch.allclose(mse, 3.0 * (e1 - e2).pow(2).mean(1).sum(), rtol=1e-4)
    with pytest.raises(ValueError, match='exactly one'):
        IdentityLoss()
    built = LOSS_REGISTRY.get('IdentityLoss')(network_fr={'backbone': {'type': 'FHMobileFaceNet',
                                                                        'embedding_size': 8}})
    assert built.embedder(torch.rand(2, 3, 112, 112)).shape == (2, 8)  # the configured backbone, not a default


def test_random_view_transforms_sr_and_hr_alike() -> None:
    torch.manual_seed(3)
    hr = torch.rand(6, 3, 20, 20)
    sr = hr * 0.5
    sr_v, hr_v = random_view(sr, hr, max_shift=2)
    assert sr_v.shape == hr_v.shape == hr.shape
    assert torch.allclose(sr_v, hr_v * 0.5)  # one geometric transform per pair, shared by SR and HR
    padded = nn.functional.pad(hr, [2] * 4, mode='replicate')
    for i in range(6):  # each view is a flip and/or shift of its own face, nothing else
        views = [padded[i, :, y:y + 20, x:x + 20] for y in range(5) for x in range(5)]
        views += [v.flip(-1) for v in views]
        assert any(torch.equal(hr_v[i], v) for v in views)
    flips, _ = random_view(hr, hr, max_shift=0)
    flipped = [torch.equal(flips[i], hr[i].flip(-1)) for i in range(6)]
    kept = [torch.equal(flips[i], hr[i]) for i in range(6)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped)


def test_identity_loss_augmented_views() -> None:
    emb = _tiny_embedder().eval()
    hr = torch.rand(4, 3, 112, 112)
    plain = IdentityLoss(embedder=emb, frozen=True)
    aug = IdentityLoss(embedder=emb, frozen=True, augment_views=2, max_shift=4)
    assert aug(hr, hr).item() == pytest.approx(0.0, abs=1e-10)
    gen = nn.Conv2d(3, 3, 3, 1, 1)
    sr = gen(hr)
    torch.manual_seed(0)
    value = aug(sr, hr)
    torch.manual_seed(0)
    v1, h1 = random_view(sr, hr, 4)
    v2, h2 = random_view(sr, hr, 4)
    expected = (plain(sr, hr) + plain(v1, h1) + plain(v2, h2)) / 3
    assert torch.allclose(value, expected, rtol=1e-5)
    value.backward()
    assert gen.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='>= 0'):
        IdentityLoss(embedder=emb, augment_views=-1)


def test_identity_feature_loss_matches_hooked_layers() -> None:
    emb = _tiny_embedder().eval()
    hr = torch.rand(3, 3, 112, 112)
    plain = IdentityLoss(embedder=emb, frozen=True)
    feat = IdentityLoss(embedder=emb, frozen=True, feature_layers=['blocks.6', 'conv2'], feature_weight=0.5)
    assert feat(hr, hr).item() == pytest.approx(0.0, abs=1e-8)
    gen = nn.Conv2d(3, 3, 3, 1, 1)
    sr = gen(hr)
    # the expected value by hand: the backbone run step by step, LPIPS-style distance of the two maps
    bb = emb.backbone

    def maps(x: torch.Tensor) -> list[torch.Tensor]:
        x = bb.dw_conv1(bb.conv1(emb.preprocess(x)))
        mid = bb.blocks[:7](x)
        return [mid, bb.conv2(bb.blocks[7:](mid))]

    def dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = nn.functional.normalize(a, dim=1), nn.functional.normalize(b, dim=1)
        return (a - b).pow(2).sum(1).mean((1, 2))

    fs, fh = maps(sr), maps(hr)
    expected = plain(sr, hr) + 0.5 * ((dist(fs[0], fh[0]) + dist(fs[1], fh[1])) / 2).mean()
    value = feat(sr, hr)
    assert torch.allclose(value, expected, rtol=1e-5)
    assert value > plain(sr, hr)
    value.backward()
    assert gen.weight.grad.abs().sum() > 0
    assert not any(m._forward_hooks for m in bb.modules())  # hooks removed after each call
    with pytest.raises(ValueError, match='feature_layers'):
        IdentityLoss(embedder=emb, feature_weight=1.0)
    with pytest.raises(ValueError, match='not a submodule'):
        IdentityLoss(embedder=emb, feature_layers=['conv9'], feature_weight=1.0)


@pytest.fixture(scope='module')
def vgg16_path(shared: str) -> str:
    return os.path.join(shared, 'models', 'vgg16_imagenet_features_fp16.pth')


def test_perceptual_loss_offline(vgg16_path: str) -> None:
    loss = FHPerceptualLoss('vgg16', vgg16_path, loss_weight=0.5)
    assert len(loss.vgg) == 29 and isinstance(loss.vgg[-1], nn.Conv2d)  # ends at conv5_3, before its ReLU
    hr = torch.rand(2, 3, 48, 48)
    assert loss(hr, hr).item() == 0.0
    sr = hr.clone().requires_grad_(True)
    value = loss(sr + 0.1 * torch.randn_like(hr), hr)
    value.backward()
    assert value.item() > 0 and sr.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())
    full = loss(hr + 0.05, hr) / 0.5
    loss.reduction = 'none'
    per = loss(hr + 0.05, hr) / 0.5
    loss.reduction = 'sum'
    assert per.shape == (2, ) and torch.allclose(loss(hr + 0.05, hr) / 0.5, per.sum())
    assert torch.allclose(full, per.mean())


def test_perceptual_loss_missing_weights_are_explained(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError, match=r'vgg19 weights not found[\s\S]*FHGAN_VGG19'):
        FHPerceptualLoss('vgg19', str(tmp_path / 'vgg19.pth'))


def test_all_components_registered() -> None:
    for name in ('FHCritic', 'FHIResNet', 'FHMobileFaceNet', 'FaceEmbedder', 'ArcMarginHead'):
        assert name in ARCH_REGISTRY
    for name in ('WGANGPLoss', 'ArcFaceLoss', 'IdentityLoss', 'FHPerceptualLoss'):
        assert name in LOSS_REGISTRY
    assert FHMobileFaceNet().eval()(torch.rand(1, 3, 112, 96)).shape == (1, 128)
