#!/usr/bin/env bash
# The README's results table: every method on all 7,701 LFW pair images (6,000 pairs, 10 folds) in one
# evaluation run, verification with three FR networks: the shared pretrained MobileFaceNet (main column),
# the FR network trained jointly in the FH-GAN run ('joint', used in training), and the MobileFaceNet trained
# from scratch on the HR training faces ('scratch', 200 iterations, never used by any generator's training).
set -euo pipefail
cd "$(dirname "$0")/.."
DSNET='DSNet(config=cpu)'
python scripts/evaluate.py --out results/eval_lfw_all --lpips-images 500 \
  --method bilinear --method bicubic --method hr \
  --method "DSNet-PSNR=$DSNET@experiments/DSNet_PSNR_x4_cpu/models/net_g_latest.pth" \
  --method "FH-GAN w/o identity=$DSNET@experiments/FHGAN_joint_noid_x4_cpu/models/net_g_latest.pth" \
  --method "FH-GAN=$DSNET@experiments/FHGAN_joint_id_x4_cpu/models/net_g_latest.pth" \
  --extra-fr "joint=options/fhgan_joint_id_cpu.yml@experiments/FHGAN_joint_id_x4_cpu/models/net_fr_latest.pth" \
  --extra-fr "scratch=options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_200.pth" \
  "$@"
