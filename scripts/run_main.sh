#!/usr/bin/env bash
# The README's main-job command: set up, prepare faces from ../shared, train CPU-scale DSNet with
# BasicSR's trainer, then compare it with PIL bicubic on 500 held-out LFW faces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY="${FHGAN_VENV:-.venv}/bin/python"
"$PY" scripts/prepare_data.py
"$PY" fhgan_plugin/train.py -opt options/train_dsnet_psnr_x4_cpu.yml --auto_resume
"$PY" scripts/eval_psnr.py --methods bicubic bilinear --dsnet-config cpu \
  --dsnet experiments/DSNet_PSNR_x4_cpu/models/net_g_latest.pth --out results/dsnet_psnr_x4_cpu_val500.json
