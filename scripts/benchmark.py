"""Speed of training, inference and evaluation on this machine, in one run with JSON output.

Sections (``--sections``, default all):

* ``table``: DSNet (paper and cpu widths) next to BasicSR's MSRResNet (16 blocks), EDSR-baseline (64 ch, 16 blocks),
  RRDBNet (23 blocks, 64/32) and SwinIR-light (window 7) at 28x28 -> 112x112: parameters, MACs
  (``torch.utils.flop_counter``), forward faces/s at batch 1 and 64 (eval mode, ``torch.inference_mode()``,
  default threads), a training step (L1 + Adam) at batch 8; achieved GFLOP/s against the machine's measured peak
  for a large 3x3 conv (float32).
* ``speed``: DSNet's optimised inference (``fhgan_plugin.archs.dsnet_fast``) and ONNX Runtime against the
  straightforward module: max abs output error (random and, with ``--faces``, real LR faces), faces/s, speed-up
  and fraction of the conv peak at each batch size.
* ``precision``: a DSNet training step in float32 / bfloat16 / bfloat16 + channels_last.
* ``training``: per-stage iteration profile of the CPU-scale training options (``fhgan_plugin.utils.train_profile``):
  the joint iteration against the sum of its parts measured alone, in the options' precision and the other one.
* ``evaluation``: the wall time of one network method's full evaluation (``scripts/evaluate.py``, no cache) on the
  prepared LFW protocol, with its numbers, the arithmetic it must do (SR, FR with mirror images, LPIPS; in MACs) and
  the least time that arithmetic takes at the measured conv peak.

Every time is the min and median over several timed repeats after warm-up, time-boxed.

Usage::

    python scripts/benchmark.py --out docs/results/benchmark.json --md docs/results/benchmark.md
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

SECTIONS = ['table', 'speed', 'precision', 'training', 'evaluation']
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


def speed_rows(args: argparse.Namespace, timing: dict[str, Any], faces: torch.Tensor | None,
               peak: float | None) -> list[dict[str, Any]]:
    """Optimised DSNet inference variants vs the straightforward module, per DSNet width."""
    variants: list[tuple[str, dict[str, Any]]] = [
        ('rearranged', dict(channels_last=False, backend='eager')),
        ('rearranged + channels_last', dict(channels_last=True, backend='eager')),
        ('auto (fast_inference)', dict(channels_last=True, backend='auto')),  # the faster exact path per shape
    ]
    if args.compile:
        variants += [('rearranged + compile', dict(channels_last=False, backend='compile')),
                     ('rearranged + channels_last + compile', dict(channels_last=True, backend='compile'))]
    out = []
    for cfg in tqdm(args.speed_configs, desc='speed work'):
        torch.manual_seed(0)
        base = DSNet.from_config(cfg).eval()
        x_rand = torch.rand(8, 3, args.lr_size, args.lr_size)
        entry: dict[str, Any] = {'dsnet_config': cfg, 'variants': {},
                                 'gmacs_per_face': count_macs(base, (1, 3, args.lr_size, args.lr_size)) / 1e9}
        ref = {b: bench_forward(base, b, args.lr_size, **timing) for b in args.batches}
        if peak:
            for b in args.batches:
                ref[b]['fraction_of_conv_peak'] = 2 * entry['gmacs_per_face'] * b / ref[b]['min_s'] / peak
        entry['variants']['straightforward'] = {f'forward_b{b}': ref[b] for b in args.batches}
        # plain channels-last on the training module: the cheapest thing a user could try
        cl = DSNet.from_config(cfg).eval()
        cl.load_state_dict(base.state_dict())
        cl = cl.to(memory_format=torch.channels_last)
        candidates = [('channels_last only', cl, True)]
        if args.onnx:
            from fhgan_plugin.export import OnnxRuntimeSR, export_onnx
            t0 = time.perf_counter()
            path = export_onnx(base, os.path.join(args.work_dir, f'dsnet_{cfg}.onnx'))
            candidates.append(('onnxruntime', OnnxRuntimeSR(path), False))
            entry.setdefault('prepare_s', {})['onnxruntime'] = time.perf_counter() - t0
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
                if peak:
                    r['fraction_of_conv_peak'] = 2 * entry['gmacs_per_face'] * b / r['min_s'] / peak
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


#: The CPU-scale training options of the shipped recipe (scripts/train_release_models.sh), profiled by 'training'.
TRAIN_OPTIONS = ['options/train/ArcFace/train_ArcFace_MobileFaceNet_cpu.yml',
                 'options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml',
                 'options/train/FHGAN/train_FHGAN_x4_cpu.yml']


def training_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Iteration profile of each training options file, in its own precision and in the other one."""
    import yaml

    from fhgan_plugin.utils.precision import bf16_supported
    from fhgan_plugin.utils.train_profile import profile_training
    out = []
    jobs = []
    for path in args.train_options:
        with open(path) as f:
            opt = yaml.safe_load(f)
        forced = []
        for key in ('pretrain_network_fr', 'pretrain_network_head'):  # stage-1 files absent: timing needs none
            value = (opt.get('path') or {}).get(key)
            if value and not os.path.isfile(value):
                forced.append(f'path:{key}=~')
        jobs.append((path, forced))
        # the other precision; BasicSR's own SRModel has no autocast: its bfloat16 run is the plugin's FaceSRModel
        # (SRModel + train.autocast / channels_last) on the same options
        if (opt.get('train') or {}).get('autocast'):
            jobs.append((path, forced + ['train:autocast=~']))
        elif bf16_supported('cpu'):
            plugin = ['model_type=FaceSRModel'] if opt.get('model_type') == 'SRModel' else []
            jobs.append((path, forced + plugin + ['train:autocast=bfloat16', 'train:channels_last=true']))
    for path, forced in tqdm(jobs, desc='training profiles'):
        torch.set_num_threads(args.train_threads or torch.get_num_threads())
        out.append(profile_training(path, forced, iters=args.train_iters, warmup=args.warmup,
                                    time_box=args.time_box))
    return out


def evaluation_rows(args: argparse.Namespace, peak: float | None) -> list[dict[str, Any]]:
    """Wall time of one network method's full evaluation (no cache) and its numbers, per LPIPS image count, with
    the arithmetic it must do (``fhgan_plugin.utils.complexity.evaluation_macs``) and the least time that
    arithmetic takes at the measured conv peak (``peak``, GFLOP/s)."""
    from fhgan_plugin.evaluation.cli import build_fr, resolve_lpips
    from fhgan_plugin.evaluation.cli import main as evaluate
    from fhgan_plugin.evaluation.methods import parse_method
    from fhgan_plugin.utils.complexity import evaluation_macs
    method = parse_method(args.eval_method)
    method.load(torch.device('cpu'))
    fr, lpips = build_fr('mobilefacenet')[0], resolve_lpips('auto')
    out = []
    for n in args.eval_lpips_images:
        out_dir = os.path.join(args.work_dir, f'eval_lpips{n}')
        argv = ['--method', args.eval_method, '--no-cache', '--lpips-images', str(n), '--out', out_dir,
                *args.eval_args]
        t0 = time.perf_counter()
        res = evaluate(argv)
        wall = time.perf_counter() - t0
        rows = [{k: v for k, v in r.items() if not k.startswith('_')} for r in res.get('rows', [])]
        entry: dict[str, Any] = {'command': 'python scripts/evaluate.py ' + ' '.join(argv), 'lpips_images': n,
                                 'wall_s': wall, 'rows': rows}
        if rows and method.net is not None:
            macs = evaluation_macs(method.net, fr, lpips, args.lr_size, 4 * args.lr_size, rows[0]['images'],
                                   rows[0].get('lpips_images', 0))
            entry['arithmetic'] = {'gmacs': {k: v / 1e9 for k, v in macs.items()}, 'tflop': 2 * macs['total'] / 1e12}
            if peak:
                floor = 2 * macs['total'] / (peak * 1e9)
                entry['arithmetic'].update(floor_s_at_conv_peak=floor,
                                           method_loop_fraction_of_conv_peak=floor / rows[0]['seconds'])
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
                  f'speed-up b{b_big} (median) | faces/s b{b_big} (best / median) | % of conv peak b{b_big} |',
                  '|---|---|---:|---:|---:|---:|---:|']
    for e in result.get('dsnet_speed', []):
        for label, v in e['variants'].items():
            err = v.get('max_abs_err_real_faces', v.get('max_abs_err_random', 0.0))
            s1 = v[f'forward_b{b_small}'].get('speedup_median', 1.0)
            big = v[f'forward_b{b_big}']
            frac = big.get('fraction_of_conv_peak')
            s_big = big.get('speedup_median', 1.0)
            lines.append(f"| {e['dsnet_config']} | {label} | {err:.1e} | {s1:.2f}x | {s_big:.2f}x"
                         f" | {big['faces_per_s_best']:.1f} / {big['faces_per_s_median']:.1f} | "
                         + (f'{100 * frac:.0f} %' if frac is not None else '—') + ' |')
    if result.get('training_precision'):
        lines += ['', f"| DSNet | training step precision (CPU capability {result['machine'].get('cpu_capability')}, "
                  f"AMX {result['machine'].get('amx')}) "
                  '| s/step (min / median) | speed-up (median) |', '|---|---|---:|---:|']
        for e in result['training_precision']:
            for label, v in e['variants'].items():
                lines.append(f"| {e['dsnet_config']} b{e['batch']} | {label} | {v['min_s']:.2f} / {v['median_s']:.2f} "
                             f"| {v['speedup_median']:.2f}x |")
    if result.get('training_profile'):
        lines += ['', '| training options | precision | batch | joint iteration (s, median) | sum of parts (s) | '
                  'joint / parts | largest parts (s) |', '|---|---|---:|---:|---:|---:|---|']
        for r in result['training_profile']:
            top = sorted(r['parts'].items(), key=lambda kv: -kv[1]['median_s'])[:3]
            lines.append(f"| {os.path.basename(r['options'])} | {r['autocast']}"
                         f"{' + channels_last' if r['channels_last'] else ''} | {r['batch']} | "
                         f"{r['joint_iteration']['median_s']:.3f} | {r['sum_of_parts_median_s']:.3f} | "
                         f"{r['ratio_joint_to_parts']:.2f} | "
                         + '; '.join(f'{k} {v["median_s"]:.3f}' for k, v in top) + ' |')
    for e in result.get('evaluation', []):
        lines += ['', f"Evaluation (LPIPS on {e['lpips_images']} faces): `{e['command']}`: **{e['wall_s']:.1f} s** "
                  'wall, start to end.']
        for r in e['rows']:
            lines.append(f"- {r['method']}: PSNR {r.get('psnr'):.2f} dB, SSIM {r.get('ssim'):.4f}, LPIPS "
                         f"{r.get('lpips'):.4f}, verification {r.get('acc'):.2f} ± {r.get('acc_std'):.2f} % "
                         f"({r.get('seconds')} s in the method loop)")
        a = e.get('arithmetic')
        if a and 'floor_s_at_conv_peak' in a:
            tf = {k: 2 * v / 1e3 for k, v in a['gmacs'].items()}
            lines.append(f"- arithmetic: {a['tflop']:.2f} TFLOP (SR {tf['sr']:.2f}, FR {tf['fr']:.2f}, LPIPS "
                         f"{tf['lpips']:.2f}): at least **{a['floor_s_at_conv_peak']:.0f} s** at the conv peak; the "
                         f"method loop ran at {100 * a['method_loop_fraction_of_conv_peak']:.0f} % of it")
    return '\n'.join(lines) + '\n'


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from fhgan_plugin.utils.allocator import keep_freed_memory
    malloc_tuning = keep_freed_memory()  # as every command-line tool does (fhgan_plugin/utils/allocator.py)
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
    parser.add_argument('--sections', nargs='+', default=SECTIONS, choices=SECTIONS,
                        help='which parts to measure (default: all)')
    parser.add_argument('--no-onnx', dest='onnx', action='store_false', help='skip ONNX Runtime in speed')
    parser.add_argument('--work-dir', default=None, help='scratch folder (ONNX files, evaluation output)')
    parser.add_argument('--train-options', nargs='+', default=TRAIN_OPTIONS)
    parser.add_argument('--train-iters', type=int, default=6, help='timed iterations per training profile')
    parser.add_argument('--train-threads', type=int, default=None, help='threads of the training profiles')
    parser.add_argument('--eval-method', default='DSNet-PSNR=dsnet-psnr-x4-cpu')
    parser.add_argument('--eval-lpips-images', nargs='+', type=int, default=[1000, 500],
                        help='one full evaluation per value (1000: scripts/evaluate_release.sh; 500: issue 29)')
    parser.add_argument('--eval-args', nargs=argparse.REMAINDER, default=[],
                        help='further scripts/evaluate.py arguments (last on the command line)')
    parser.add_argument('--precision-batch', type=int, default=16,
                        help='batch of the float32 / bfloat16 training-step comparison (0 skips it)')
    parser.add_argument('--quick', action='store_true', help='1 s time box, 2 repeats, batches 1 and 4')
    args = parser.parse_args(argv)
    if args.quick:
        args.time_box, args.repeats, args.batches = 1.0, 2, [1, 4]
    args.batches = sorted(args.batches)
    timing = dict(warmup=args.warmup, repeats=args.repeats, time_box=args.time_box)
    result: dict[str, Any] = {'machine': {**machine_info(), 'malloc_tuning': malloc_tuning}, 'settings': {
        'lr_size': args.lr_size, 'scale': 4, 'batches': args.batches, 'train_batch': args.train_batch, **timing,
        'timing': 'min and median of the timed repeats after warm-up; faces/s = batch / time'}}
    import tempfile
    scratch = tempfile.TemporaryDirectory(prefix='fhgan_benchmark_') if args.work_dir is None else None
    args.work_dir = args.work_dir or scratch.name
    peak = None
    if {'table', 'speed', 'evaluation'} & set(args.sections):
        result['conv_peak'] = conv_peak_gflops(**timing)
        peak = result['conv_peak']['gflops_per_s_best']
    if 'table' in args.sections:
        result['table'] = table_rows(args, timing, peak)
    if 'speed' in args.sections:
        faces = load_faces(args.faces, 64) if args.faces else None
        result['dsnet_speed'] = speed_rows(args, timing, faces, peak)
    if 'precision' in args.sections and args.precision_batch > 0:
        result['training_precision'] = precision_rows(args, timing)
    if 'training' in args.sections:
        result['training_profile'] = training_rows(args)
    if 'evaluation' in args.sections:
        result['evaluation'] = evaluation_rows(args, peak)
    if scratch is not None:
        scratch.cleanup()
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
