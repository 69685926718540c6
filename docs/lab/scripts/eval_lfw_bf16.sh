#!/usr/bin/env bash
# One all-pairs LFW evaluation of the paper-width (bfloat16-trained) Table 1 ablation beside the baselines and the
# shipped cpu-width models (results/eval_lfw_paper; docs/experiments.md "Paper-width DSNet on CPU, in bfloat16"). Two FR networks:
# the shared MobileFaceNet (main) and the from-scratch MobileFaceNet (independent of every loss). The paper-width
# DSNet-PSNR start is not in it (20+ CPU minutes in float32; its PSNR on 300 images is in the README).
# Per-method results and SR faces are cached under results/eval_lfw_paper/cache, so methods evaluated while
# training still ran are not recomputed. Extra arguments are passed on (e.g. --limit 500 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
PAPER='DSNet(config=paper)'
python scripts/evaluate.py --out results/eval_lfw_paper --lpips-images 500 --figure-pairs '' \
  --method bicubic --method hr \
  --method "DSNet-PSNR (cpu, shipped)=dsnet-psnr-x4-cpu" --method "FH-GAN (cpu, shipped)=fhgan-x4-cpu" \
  --method "FH-GAN w/o identity (paper width)=$PAPER@experiments/FHGAN_joint_noid_x4_bf16/models/net_g_600.pth" \
  --method "FH-GAN (paper width)=$PAPER@experiments/FHGAN_joint_id_x4_bf16/models/net_g_600.pth" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  "$@"
