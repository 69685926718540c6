#!/usr/bin/env bash
# The README's main-job command: set up, prepare the faces from ../shared, hallucinate all 7,701 LFW pair
# faces (degraded to 28x28) with the shipped FH-GAN generator (fhgan-x4-cpu, the default model), then
# evaluate it against bicubic and the HR faces on all 6,000 LFW pairs (PSNR / SSIM / LPIPS / verification).
# Training the models yourself: scripts/train_release_models.sh (then scripts/evaluate_release.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
VENV="${FHGAN_VENV:-.venv}"
PY="$VENV/bin/python"
"$PY" scripts/prepare_data.py
"$PY" scripts/degrade_faces.py datasets/faces112/lfw_pairs results/lfw_lr28
"$VENV/bin/fhgan-hallucinate" results/lfw_lr28 -o results/lfw_sr112
"$PY" scripts/evaluate.py --method bicubic --method hr --method FH-GAN=fhgan-x4-cpu --lpips-images 500 \
  --out results/eval_lfw_shipped
