"""Export an SR generator (DSNet by default) to ONNX and TorchScript with dynamic batch and input size,
and check the exported model against PyTorch (max abs error) on random and real faces.

``python scripts/export.py --weights net_g_latest.pth --out exported/dsnet`` writes ``dsnet.onnx`` and
``dsnet.ts`` and prints a JSON report.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from fhgan_plugin.utils.report import emit_json

DYNAMIC = {'lq': {0: 'batch', 2: 'height', 3: 'width'}, 'sr': {0: 'batch', 2: 'out_height', 3: 'out_width'}}


def export_onnx(net: nn.Module, path: str, opset: int = 17, example: torch.Tensor | None = None) -> str:
    """ONNX with dynamic batch / height / width (input ``lq``, output ``sr``, both (N, 3, H, W) in [0, 1])."""
    if getattr(net, 'back_projection', 0):
        raise ValueError(f'ONNX cannot express the antialiased downsampling of back_projection='
                         f'{net.back_projection}: export with --arch "DSNet(config=...,back_projection=0)" (or '
                         '--formats torchscript) and apply fhgan_plugin.data.back_project(sr, lq, '
                         f'{net.back_projection}) to the ONNX output')
    example = example if example is not None else torch.rand(1, 3, 28, 28)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(net.eval(), (example,), path, input_names=['lq'], output_names=['sr'],
                          dynamic_axes=DYNAMIC, opset_version=opset, dynamo=False)
    return path


def export_torchscript(net: nn.Module, path: str, example: torch.Tensor | None = None) -> str:
    """TorchScript by tracing (DSNet has no size-dependent control flow, so any batch and size work)."""
    example = example if example is not None else torch.rand(1, 3, 28, 28)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(net.eval(), example, check_trace=False)
    traced.save(path)
    return path


def onnx_runner(path: str) -> Any:
    """An onnxruntime CPU session (raises ImportError naming the package)."""
    try:
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('checking ONNX needs onnxruntime: pip install onnxruntime (or ".[export]")') from err
    return ort.InferenceSession(path, providers=['CPUExecutionProvider'])


class OnnxRuntimeSR(nn.Module):
    """An exported SR network run by ONNX Runtime behind the PyTorch module interface (CPU, float32).

    Args:
        path: ``.onnx`` file written by :func:`export_onnx` (input ``lq``, output ``sr``).
        threads: ONNX Runtime intra-op threads (None: its default, one per physical core).

    Shapes:
        x (N, 3, h, w) in [0, 1] -> (N, 3, H, W) float32 tensor.
    """

    def __init__(self, path: str, threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError('ONNX Runtime inference needs onnxruntime: pip install onnxruntime') from err
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.session.run(['sr'], {'lq': x.detach().cpu().float().contiguous().numpy()})[0]
        return torch.from_numpy(y)


@torch.no_grad()
def compare(net: nn.Module, onnx_path: str | None, ts_path: str | None, inputs: dict[str, torch.Tensor]) -> dict:
    """Max abs difference of ONNX Runtime / TorchScript outputs against PyTorch, per named input batch."""
    out: dict[str, dict[str, float]] = {}
    sess = onnx_runner(onnx_path) if onnx_path else None
    ts = torch.jit.load(ts_path) if ts_path else None
    for name, x in inputs.items():
        ref = net(x)
        row = {'shape': list(x.shape)}
        if sess is not None:
            y = sess.run(['sr'], {'lq': x.numpy().astype(np.float32)})[0]
            row['onnx_max_abs'] = float(np.abs(y - ref.numpy()).max())
        if ts is not None:
            row['torchscript_max_abs'] = float((ts(x) - ref).abs().max())
        out[name] = row
    return out


def real_faces(root: str, n: int = 16) -> torch.Tensor | None:
    """The first ``n`` aligned faces under ``root`` degraded canonically to 28x28 (None if absent)."""
    from fhgan_plugin.data.degradation import canonical_degradation
    from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
    if not os.path.isdir(root):
        return None
    ds = FaceSRDataset({'dataroot_gt': root, 'phase': 'val'})
    hr = torch.stack([ds.load_gt(i)[0] for i in range(min(n, len(ds)))])
    return canonical_degradation(hr)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from fhgan_plugin.evaluation.methods import parse_arch_spec
    from fhgan_plugin.inference import load_generator
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', required=True)
    p.add_argument('--arch', default=None, help="'Type(key=value,...)' (default: the DSNet config that fits)")
    p.add_argument('--out', default='exported/dsnet', help='output path without extension')
    p.add_argument('--formats', nargs='+', default=['onnx', 'torchscript'], choices=['onnx', 'torchscript'])
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--faces', default='datasets/faces112/lfw_pairs', help='aligned HR faces for the real check')
    args = p.parse_args(argv)
    net = load_generator(args.weights, parse_arch_spec(args.arch) if args.arch else None)
    onnx_path = export_onnx(net, args.out + '.onnx', args.opset) if 'onnx' in args.formats else None
    ts_path = export_torchscript(net, args.out + '.ts') if 'torchscript' in args.formats else None
    torch.manual_seed(0)
    inputs = {'random_b1_28': torch.rand(1, 3, 28, 28), 'random_b5_28': torch.rand(5, 3, 28, 28),
              'random_b2_32x24': torch.rand(2, 3, 32, 24)}
    faces = real_faces(args.faces)
    if faces is not None:
        inputs['lfw_faces'] = faces
    report = {'weights': args.weights, 'onnx': onnx_path, 'torchscript': ts_path,
              'checks': compare(net, onnx_path, ts_path, inputs)}
    emit_json(report, args.out + '_export.json')
    return report


def console() -> None:
    main()


if __name__ == '__main__':
    console()
