#!/usr/bin/env bash
# The final test of the shipped models: bicubic, the HR faces, dsnet-psnr-x4-cpu and fhgan-x4-cpu on all 7,701 LFW
# pairs.txt faces / 6,000 pairs (10 folds), in one run (results/eval_lfw_release/: results.md, summary.json, ROC,
# figure). Nothing is chosen on it: every choice was made on the validation identities. Extra arguments are passed
# to scripts/evaluate.py (e.g. another --method to measure in the same run). ~10 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
"${FHGAN_VENV:-.venv}/bin/python" scripts/evaluate.py --out results/eval_lfw_release --lpips-images 1000 \
  --method bicubic --method hr --method DSNet-PSNR=dsnet-psnr-x4-cpu --method FH-GAN=fhgan-x4-cpu "$@"
