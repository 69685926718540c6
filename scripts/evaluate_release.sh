#!/usr/bin/env bash
# The final test of the shipped models: bicubic, the HR faces, dsnet-psnr-x4-cpu and fhgan-x4-cpu on all 7,701 LFW
# pairs.txt faces / 6,000 pairs (10 folds), in one run (results/eval_lfw_release/: results.md, summary.json, ROC,
# figure). Nothing is chosen on it: every choice was made on the validation identities. Extra arguments are passed
# to scripts/evaluate.py (e.g. another --method to measure in the same run). ~10 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
"${FHGAN_VENV:-.venv}/bin/python" scripts/evaluate.py --out results/eval_lfw_release --lpips-images 1000 \
  --method bicubic --method hr --method DSNet-PSNR=dsnet-psnr-x4-cpu --method FH-GAN=fhgan-x4-cpu "$@"
# the field's x8 benchmark (CelebA-1000 + Helen-50; results/eval_x8_release/results.md), the same rule: evaluated once;
# every row a shipped file (the baselines edsr-x8-cpu and fhgan-x8-noid-cpu included), so it needs no experiments/
PY="${FHGAN_VENV:-.venv}/bin/python"
"$PY" scripts/evaluate.py --benchmark face-sr-x8 --out results/eval_x8_release \
  --method bicubic-opencv --method hr --method DSNet-PSNR-x8=dsnet-psnr-x8-cpu \
  --method "EDSR-x8 (BasicSR, same data)=edsr-x8-cpu" \
  --method "FH-GAN-x8 w/o identity=fhgan-x8-noid-cpu" --method FH-GAN-x8=fhgan-x8-cpu
# real low-resolution probes (docs/results/real_lr.md; results/eval_lfw_gallery_probe/): LFW gallery-probe under the eight
# probe conditions, the same rule; the w/o-identity partner at the checkpoint its validation chose
NOIDR=$("$PY" scripts/collect_validation.py experiments/FHGAN_x4_real_noid_cpu --best verification@val_pairs_real)
"$PY" scripts/evaluate.py --protocol gallery-probe --conditions all --out results/eval_lfw_gallery_probe \
  --method bicubic --method hr --method FH-GAN=fhgan-x4-cpu \
  --method "FH-GAN-real w/o identity=DSNet(config=cpu)@$NOIDR" --method FH-GAN-real=fhgan-x4-real-cpu
