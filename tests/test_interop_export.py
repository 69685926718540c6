"""MMEngine registry interop and ONNX / TorchScript export of DSNet."""
from __future__ import annotations

import importlib
import os

import numpy as np
import pytest
import torch

from fhgan_plugin.archs import DSNet
from fhgan_plugin.archs.critic_arch import FHCritic
from fhgan_plugin.export import compare, export_onnx, export_torchscript

TINY = dict(num_feat=8, num_block=2, num_layer=3, growth=4, num_bottleneck=8, upscale=4)


def test_mmengine_config_builds_dsnet_and_critic(tmp_path) -> None:  # noqa: ANN001
    mmengine = pytest.importorskip('mmengine', reason='mmengine is a test dependency (pip install -e ".[test]")')
    cfg_file = tmp_path / 'fhgan_cfg.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['fhgan_plugin.mm'], allow_failed_imports=False)\n"
        "generator = dict(type='DSNet', num_feat=8, num_block=2, num_layer=3, growth=4, num_bottleneck=8)\n"
        "critic = dict(type='FHCritic', num_feat=8, num_down=3, input_size=32)\n")
    cfg = mmengine.Config.fromfile(str(cfg_file))
    from mmengine.registry import MODELS
    g, d = MODELS.build(cfg.generator), MODELS.build(cfg.critic)
    assert type(g) is DSNet and type(d) is FHCritic
    x = torch.rand(2, 3, 8, 8)
    sr = g(x)
    assert sr.shape == (2, 3, 32, 32) and d(sr).shape == (2, 1)
    importlib.reload(importlib.import_module('fhgan_plugin.mm'))  # re-import: idempotent


def test_onnx_and_torchscript_match_pytorch(tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip('onnxruntime', reason='onnxruntime is a test dependency (pip install -e ".[test]")')
    torch.manual_seed(0)
    net = DSNet(**TINY).eval()
    onnx_path = export_onnx(net, str(tmp_path / 'g.onnx'))
    ts_path = export_torchscript(net, str(tmp_path / 'g.ts'))
    inputs = {'b1': torch.rand(1, 3, 28, 28), 'b7': torch.rand(7, 3, 28, 28), 'other_size': torch.rand(3, 3, 20, 36)}
    res = compare(net, onnx_path, ts_path, inputs)
    for name, row in res.items():
        assert row['onnx_max_abs'] <= 1e-4, (name, row)
        assert row['torchscript_max_abs'] <= 1e-5, (name, row)
    assert res['other_size']['shape'] == [3, 3, 20, 36]
    assert os.path.getsize(onnx_path) > 1000


@pytest.mark.shared
def test_export_cpu_dsnet_on_real_faces(shared: str, tmp_path) -> None:  # noqa: ANN001
    """The CPU-scale DSNet exported and checked on canonical 28x28 LFW faces (aligned here)."""
    pytest.importorskip('onnxruntime', reason='onnxruntime is a test dependency')
    import cv2

    from fhgan_plugin.data.alignment import FaceDetector, pick_central, warp_face
    from fhgan_plugin.data.degradation import canonical_degradation
    src = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg')
    det = FaceDetector(os.path.join(shared, 'models', 'facexlib'))
    img = cv2.imread(src)
    face, _ = warp_face(img, pick_central(det.detect(img), img.shape).landmarks)
    hr = torch.from_numpy(np.ascontiguousarray(face[..., ::-1])).permute(2, 0, 1).float()[None] / 255
    torch.manual_seed(0)
    net = DSNet.from_config('cpu').eval()
    res = compare(net, export_onnx(net, str(tmp_path / 'g.onnx')), None, {'face': canonical_degradation(hr)})
    assert res['face']['onnx_max_abs'] <= 1e-4


def test_onnx_export_of_a_back_projecting_dsnet_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    net = DSNet.from_config('cpu', back_projection=5).eval()
    with pytest.raises(ValueError, match='back_projection=0'):
        export_onnx(net, str(tmp_path / 'bp.onnx'))
    ts = torch.jit.load(export_torchscript(net, str(tmp_path / 'bp.ts')))
    x = torch.rand(2, 3, 28, 28)
    with torch.no_grad():
        assert (ts(x) - net(x)).abs().max() < 1e-5  # TorchScript keeps the back-projection
