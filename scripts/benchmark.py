"""Speed of DSNet next to BasicSR's SR networks at 28x28 -> 112x112, and of DSNet's optimised inference (JSON).

One run on one machine measures, for DSNet (paper and cpu widths), MSRResNet (16 blocks), EDSR-baseline
(64 ch, 16 blocks), RRDBNet (23 blocks, 64/32) and SwinIR-light (window 7): parameters, MACs
(``torch.utils.flop_counter``), forward faces/s at batch 1 and 64 (eval mode, ``torch.inference_mode()``,
default threads), a training step (L1 + Adam) at batch 8, each as min and median over several timed repeats
after warm-up, time-boxed; the achieved GFLOP/s against the machine's measured peak for a large 3x3 conv;
then the optimised DSNet inference variants (``fhgan_plugin.archs.dsnet_fast``) against the straightforward
module, with their max abs output error on random faces (and real LR faces with ``--faces``).

Usage::

    python scripts/benchmark.py --out results/benchmark.json --md results/benchmark.md [--compile]
    python scripts/benchmark.py --quick          # a few seconds per measurement, for a smoke run

Run it on a quiet machine: the JSON records the 1-minute load average at start and end.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

import fhgan_plugin  # noqa: E402,F401
from fhgan_plugin.archs.dsnet_arch import DSNet  # noqa: E402
from fhgan_plugin.archs.dsnet_fast import optimize_dsnet  # noqa: E402
from fhgan_plugin.utils.benchmark import bench_forward, bench_train_step, conv_peak_gflops, machine_info, max_abs_error  # noqa: E402
from fhgan_plugin.utils.complexity import count_macs, count_params, reference_sr_networks  # noqa: E402
from fhgan_plugin.utils.report import emit_json  # noqa: E402

TABLE_NETWORKS = ['DSNet (paper)', 'DSNet (cpu)', 'MSRResNet (16 blocks)', 'EDSR-baseline (64ch, 16 blocks)',
                  'RRDBNet (23 blocks, 64/32)', 'SwinIR-light (window 7)']


def load_faces(folder: str, limit: int) -> torch.Tensor | None:
    """Up to ``limit`` LR face images (PNG/JPG, all the same size) from ``folder`` as (N, 3, H, W) in [0, 1]."""
    import cv2
    paths = sorted(glob.glob(os.path.join(folder, '**', '*.png'), recursive=True)
                   + glob.glob(os.path.join(folder, '**', '*.jpg'), recursive=True))[:limit]
    imgs = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths]
    imgs = [im[:, :, ::-1] for im in imgs if im is not None]
    if not imgs:
        return None
    return torch.from_numpy(np.stack(imgs).astype(np.float32) / 255.).permute(0, 3, 1, 2).contiguous()


def table_rows(args: argparse.Namespace, timing: dict[str, Any], peak: float) -> list[dict[str, Any]]:
    nets = reference_sr_networks(4)
    rows = []
    for name in tqdm(args.networks, desc='networks'):
        net = nets[name]
        macs = count_macs(net, (1, 3, args.lr_size, args.lr_size))
        row: dict[str, Any] = {'network': name, 'params': count_params(net), 'gmacs_per_face': macs / 1e9}
        for b in args.batches:
            row[f'forward_b{b}'] = bench_forward(net, b, args.lr_size, **timing)
        row[f'train_step_b{args.train_batch}'] = bench_train_step(net, args.train_batch, args.lr_size, **timing)
        big = row[f'forward_b{max(args.batches)}']
        achieved = 2 * macs * big['batch'] / big['min_s'] / 1e9
        row['achieved_gflops_per_s'] = achieved
        row['fraction_of_conv_peak'] = achieved / peak
        rows.append(row)
    return rows


def speed_rows(args: argparse.Namespace, timing: dict[str, Any], faces: torch.Tensor | None) -> list[dict[str, Any]]:
    """Optimised DSNet inference variants vs the straightforward module, per DSNet width."""
    variants: list[tuple[str, dict[str, Any]]] = [
        ('rearranged', dict(channels_last=False, backend='eager')),
        ('rearranged + channels_last', dict(channels_last=True, backend='eager')),
    ]
    if args.compile:
        variants += [('rearranged + compile', dict(channels_last=False, backend='compile')),
                     ('rearranged + channels_last + compile', dict(channels_last=True, backend='compile'))]
    out = []
    for cfg in tqdm(args.speed_configs, desc='speed work'):
        torch.manual_seed(0)
        base = DSNet.from_config(cfg).eval()
        x_rand = torch.rand(8, 3, args.lr_size, args.lr_size)
        entry: dict[str, Any] = {'dsnet_config': cfg, 'variants': {}}
        ref = {b: bench_forward(base, b, args.lr_size, **timing) for b in args.batches}
        entry['variants']['straightforward'] = {f'forward_b{b}': ref[b] for b in args.batches}
        # plain channels-last on the training module: the cheapest thing a user could try
        cl = DSNet.from_config(cfg).eval()
        cl.load_state_dict(base.state_dict())
        cl = cl.to(memory_format=torch.channels_last)
        candidates = [('channels_last only', cl, True)]
        for label, kw in variants:
            t0 = time.perf_counter()
            fast = optimize_dsnet(base, **kw)
            with torch.inference_mode():  # compile happens on first calls: not timed as inference
                for b in args.batches:
                    fast(torch.rand(b, 3, args.lr_size, args.lr_size))
            candidates.append((label, fast, False))
            entry.setdefault('prepare_s', {})[label] = time.perf_counter() - t0
        for label, net, cl_input in candidates:
            res: dict[str, Any] = {'max_abs_err_random': max_abs_error(net, base, x_rand)}
            if faces is not None:
                res['max_abs_err_real_faces'] = max_abs_error(net, base, faces)
            for b in args.batches:
                r = bench_forward(net, b, args.lr_size, channels_last=cl_input, **timing)
                r['speedup_median'] = ref[b]['median_s'] / r['median_s']
                r['speedup_best'] = ref[b]['min_s'] / r['min_s']
                res[f'forward_b{b}'] = r
            entry['variants'][label] = res
        out.append(entry)
    return out


def precision_rows(args: argparse.Namespace, timing: dict[str, Any]) -> list[dict[str, Any]]:
    """DSNet training step in float32 vs bfloat16 autocast (+ channels_last): ``train.autocast`` / ``channels_last``."""
    out = []
    for cfg in tqdm(args.speed_configs, desc='training precision'):
        entry: dict[str, Any] = {'dsnet_config': cfg, 'batch': args.precision_batch, 'variants': {}}
        for label, dtype, cl in (('float32', None, False), ('bfloat16', torch.bfloat16, False),
                                 ('bfloat16 + channels_last', torch.bfloat16, True)):
            torch.manual_seed(0)
            r = bench_train_step(DSNet.from_config(cfg), args.precision_batch, args.lr_size, autocast_dtype=dtype,
                                 channels_last=cl, **timing)
            entry['variants'][label] = r
        ref = entry['variants']['float32']['median_s']
        for r in entry['variants'].values():
            r['speedup_median'] = ref / r['median_s']
        out.append(entry)
    return out


def markdown(result: dict[str, Any]) -> str:
    m = result['machine']
    b_small, b_big = result['settings']['batches'][0], result['settings']['batches'][-1]
    tb = result['settings']['train_batch']
    peak = result.get('conv_peak', {}).get('gflops_per_s_best')
    lines = [f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch {m['torch']}, "
             f"{m['torch_threads']} threads" + (f'; conv peak {peak:.1f} GFLOP/s' if peak else '')
             + f"; load average {m.get('load_average_1min')} at start, {result.get('load_average_end')} at end.", '']
    if result.get('table'):
        lines += [f'| network | params | GMACs/face | faces/s b{b_small} (min / median time) | faces/s b{b_big} '
                  f'| train step b{tb} faces/s | GFLOP/s (b{b_big}) | % of conv peak |',
                  '|---|---:|---:|---:|---:|---:|---:|---:|']
    for r in result.get('table', []):
        f1, f64, tr = r[f'forward_b{b_small}'], r[f'forward_b{b_big}'], r[f'train_step_b{tb}']
        lines.append(f"| {r['network']} | {r['params']:,} | {r['gmacs_per_face']:.2f} | "
                     f"{f1['faces_per_s_best']:.1f} / {f1['faces_per_s_median']:.1f} | "
                     f"{f64['faces_per_s_best']:.1f} / {f64['faces_per_s_median']:.1f} | "
                     f"{tr['faces_per_s_best']:.1f} / {tr['faces_per_s_median']:.1f} | "
                     f"{r['achieved_gflops_per_s']:.1f} | {100 * r['fraction_of_conv_peak']:.0f} % |")
    if result.get('dsnet_speed'):
        lines += ['', f'| DSNet | inference variant | max abs err | speed-up b{b_small} (median) | '
                  f'speed-up b{b_big} (median) | faces/s b{b_big} (median) |', '|---|---|---:|---:|---:|---:|']
    for e in result.get('dsnet_speed', []):
        for label, v in e['variants'].items():
            err = v.get('max_abs_err_real_faces', v.get('max_abs_err_random', 0.0))
            s1 = v[f'forward_b{b_small}'].get('speedup_median', 1.0)
            s64 = v[f'forward_b{b_big}'].get('speedup_median', 1.0)
            lines.append(f"| {e['dsnet_config']} | {label} | {err:.1e} | {s1:.2f}x | {s64:.2f}x | "
                         f"{v[f'forward_b{b_big}']['faces_per_s_median']:.1f} |")
    if result.get('training_precision'):
        lines += ['', f"| DSNet | training step precision (CPU capability {result['machine'].get('cpu_capability')}, "
                  f"AMX {result['machine'].get('amx')}) "
                  '| s/step (min / median) | speed-up (median) |', '|---|---|---:|---:|']
        for e in result['training_precision']:
            for label, v in e['variants'].items():
                lines.append(f"| {e['dsnet_config']} b{e['batch']} | {label} | {v['min_s']:.2f} / {v['median_s']:.2f} "
                             f"| {v['speedup_median']:.2f}x |")
    return '\n'.join(lines) + '\n'


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=None, help='write the JSON here too')
    parser.add_argument('--md', default=None, help='write a markdown table here')
    parser.add_argument('--networks', nargs='+', default=TABLE_NETWORKS, choices=sorted(reference_sr_networks(4)))
    parser.add_argument('--speed-configs', nargs='+', default=['paper', 'cpu'])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 64])
    parser.add_argument('--train-batch', type=int, default=8)
    parser.add_argument('--lr-size', type=int, default=28)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--time-box', type=float, default=20.0, help='seconds of timed calls per measurement')
    parser.add_argument('--compile', action='store_true', help='also measure torch.compile variants')
    parser.add_argument('--faces', default=None, help='folder of real LR faces for the output-error check')
    parser.add_argument('--sections', nargs='+', default=['table', 'speed', 'precision'],
                        choices=['table', 'speed', 'precision'], help='which parts to measure (default: all)')
    parser.add_argument('--precision-batch', type=int, default=16,
                        help='batch of the float32 / bfloat16 training-step comparison (0 skips it)')
    parser.add_argument('--quick', action='store_true', help='1 s time box, 2 repeats, batches 1 and 4')
    args = parser.parse_args(argv)
    if args.quick:
        args.time_box, args.repeats, args.batches = 1.0, 2, [1, 4]
    args.batches = sorted(args.batches)
    timing = dict(warmup=args.warmup, repeats=args.repeats, time_box=args.time_box)
    result: dict[str, Any] = {'machine': machine_info(), 'settings': {
        'lr_size': args.lr_size, 'scale': 4, 'batches': args.batches, 'train_batch': args.train_batch, **timing,
        'timing': 'min and median of the timed repeats after warm-up; faces/s = batch / time'}}
    if 'table' in args.sections:
        peak = conv_peak_gflops(**timing)
        result['conv_peak'] = peak
        result['table'] = table_rows(args, timing, peak['gflops_per_s_best'])
    if 'speed' in args.sections:
        faces = load_faces(args.faces, 64) if args.faces else None
        result['dsnet_speed'] = speed_rows(args, timing, faces)
    if 'precision' in args.sections and args.precision_batch > 0:
        result['training_precision'] = precision_rows(args, timing)
    if hasattr(os, 'getloadavg'):
        result['load_average_end'] = round(os.getloadavg()[0], 2)
    emit_json(result, args.out)
    if args.md:
        os.makedirs(os.path.dirname(os.path.abspath(args.md)), exist_ok=True)
        with open(args.md, 'w') as f:
            f.write(markdown(result))
    return result


if __name__ == '__main__':
    main()
