"""PSNR/SSIM of PIL baselines and DSNet checkpoints on aligned HR faces (JSON out).

LR inputs are made from the HR faces by the canonical degradation (uint8). PSNR/SSIM are BasicSR's
functions on uint8 RGB with crop border 0 (the project's convention).

Usage::

    python scripts/eval_psnr.py --root datasets/faces112 --meta datasets/meta/lfw_val500.txt \\
        --methods bicubic bilinear --dsnet experiments/DSNet_PSNR_x4_cpu/models/net_g_latest.pth \\
        --dsnet-config cpu --out results/eval_psnr.json
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

import fhgan_plugin  # noqa: E402,F401
from fhgan_plugin.archs import DSNet  # noqa: E402
from fhgan_plugin.data import FaceSRDataset  # noqa: E402
from fhgan_plugin.utils.metrics import psnr_ssim_batch  # noqa: E402
from fhgan_plugin.utils.report import emit_json  # noqa: E402
from fhgan_plugin.utils.upsample import pil_upsample  # noqa: E402


def load_dsnet(path: str, config: str, **overrides: object) -> DSNet:
    """DSNet of a named configuration with weights from a BasicSR checkpoint (``params`` or ``params_ema``)."""
    net = DSNet.from_config(config, **overrides)
    state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('params_ema', 'params'):
        if isinstance(state, dict) and key in state:
            state = state[key]
            break
    net.load_state_dict(state, strict=True)
    return net.eval()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', default='datasets/faces112')
    parser.add_argument('--meta', default='datasets/meta/lfw_val500.txt')
    parser.add_argument('--methods', nargs='*', default=['bicubic', 'bilinear'])
    parser.add_argument('--dsnet', nargs='*', default=[], help='DSNet checkpoints (BasicSR net_g_*.pth)')
    parser.add_argument('--dsnet-config', default='paper')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    ds = FaceSRDataset({'dataroot_gt': args.root, 'meta_info_file': args.meta, 'scale': 4, 'phase': 'val'})
    methods: dict = {m: (lambda lq, m=m: pil_upsample(lq, 4, m)) for m in args.methods}
    for ck in args.dsnet:
        net = load_dsnet(ck, args.dsnet_config)
        methods[f'DSNet:{ck}'] = lambda lq, net=net: net(lq).clamp(0, 1)
    scores: dict = {m: {'psnr': [], 'ssim': []} for m in methods}
    t0 = time.time()
    with torch.inference_mode():
        for start in tqdm(range(0, len(ds), args.batch_size), desc='eval'):
            items = [ds[i] for i in range(start, min(start + args.batch_size, len(ds)))]
            lq = torch.stack([it['lq'] for it in items])
            gt = torch.stack([it['gt'] for it in items])
            for m, fn in methods.items():
                p, s = psnr_ssim_batch(fn(lq), gt)
                scores[m]['psnr'] += p
                scores[m]['ssim'] += s
    result = {'images': len(ds), 'meta': args.meta, 'seconds': round(time.time() - t0, 1),
              'methods': {m: {'psnr': float(np.mean(v['psnr'])), 'ssim': float(np.mean(v['ssim']))}
                          for m, v in scores.items()}}
    emit_json(result, args.out)
    return result


if __name__ == '__main__':
    main()
