#!/usr/bin/env bash
# Issue 29: float32 / bfloat16 A/B of the shipped CPU recipe, same seed, both chains side by side (one thread each).
#   B (bfloat16 where supported = the options as shipped): stage 1 -> DSNet-PSNR -> release -> FH-GAN -> release
#   A (float32): DSNet-PSNR with train.autocast ~ (and channels_last off, the previous default) -> release to
#     experiments/ab_float32/ -> FH-GAN with train.autocast ~ from that file and the same stage 1.
# Stage 1 (MobileFaceNet) is shared: bfloat16 measured no faster for it, so its options keep float32.
# Validation numbers: the runs' logs (experiments/<name>/train_*.log); collected by docs/lab/scripts/ab_precision_report.py.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY="${FHGAN_VENV:-.venv}/bin/python"
train() { OMP_NUM_THREADS=1 "$PY" fhgan_plugin/train.py --auto_resume -opt "$@"; }
mkdir -p experiments/ab_float32
(
  train options/train/ArcFace/train_ArcFace_MobileFaceNet_cpu.yml && touch experiments/ab_float32/stage1.done
  train options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml
  OMP_NUM_THREADS=1 "$PY" scripts/make_release.py --name dsnet-psnr-x4-cpu
  train options/train/FHGAN/train_FHGAN_x4_cpu.yml
  OMP_NUM_THREADS=1 "$PY" scripts/make_release.py --name fhgan-x4-cpu
) > experiments/ab_float32/chain_bf16.log 2>&1 &
(
  train options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml --force_yml name=DSNet_PSNR_x4_cpu_float32 \
    train:autocast=~ train:channels_last=false
  OMP_NUM_THREADS=1 "$PY" scripts/make_release.py --name dsnet-psnr-x4-cpu --out-dir experiments/ab_float32 \
    --ckpt experiments/DSNet_PSNR_x4_cpu_float32/models/net_g_latest.pth
  while [ ! -e experiments/ab_float32/stage1.done ]; do sleep 10; done
  train options/train/FHGAN/train_FHGAN_x4_cpu.yml --force_yml name=FHGAN_x4_cpu_float32 train:autocast=~ \
    path:pretrain_network_g=experiments/ab_float32/dsnet_psnr_x4_cpu.pth
) > experiments/ab_float32/chain_fp32.log 2>&1 &
wait
