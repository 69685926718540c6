"""Expected state-dict keys and parameter count of insightface's ``iresnet34`` (arcface_torch).

Written by reading ``recognition/arcface_torch/backbones/iresnet.py`` of deepinsight/insightface
(IResNet with IBasicBlock, layers [3, 4, 6, 3], planes 64/128/256/512, each stage's first block with
stride 2 and a conv1x1+BN ``downsample``; stem conv1/bn1/prelu; head bn2, fc (512·7·7 → 512) and
``features`` BatchNorm1d). Derived by hand from that structure, not from this project's model.
"""
from __future__ import annotations

LAYERS = [3, 4, 6, 3]
PLANES = [64, 128, 256, 512]
BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def _bn(prefix: str) -> list[str]:
    return [f'{prefix}.{s}' for s in BN]


def expected_keys() -> list[str]:
    keys = ['conv1.weight', *_bn('bn1'), 'prelu.weight']
    for li, n in enumerate(LAYERS, 1):
        for b in range(n):
            p = f'layer{li}.{b}'
            keys += [*_bn(f'{p}.bn1'), f'{p}.conv1.weight', *_bn(f'{p}.bn2'), f'{p}.prelu.weight',
                     f'{p}.conv2.weight', *_bn(f'{p}.bn3')]
            if b == 0:
                keys += [f'{p}.downsample.0.weight', *_bn(f'{p}.downsample.1')]
    keys += [*_bn('bn2'), 'fc.weight', 'fc.bias', *_bn('features')]
    return keys


def expected_param_count() -> int:
    """Trainable + frozen parameters (``features.weight`` is a parameter with requires_grad=False)."""
    n = 3 * 64 * 9 + 2 * 64 + 64  # conv1, bn1, prelu
    inplanes = 64
    for planes, blocks in zip(PLANES, LAYERS):
        for b in range(blocks):
            cin = inplanes if b == 0 else planes
            n += 2 * cin  # bn1
            n += cin * planes * 9  # conv1
            n += 2 * planes + planes  # bn2, prelu
            n += planes * planes * 9  # conv2
            n += 2 * planes  # bn3
            if b == 0:
                n += cin * planes + 2 * planes  # downsample conv1x1 + BN
        inplanes = planes
    n += 2 * 512  # bn2
    n += 512 * 7 * 7 * 512 + 512  # fc
    n += 2 * 512  # features BN1d
    return n
