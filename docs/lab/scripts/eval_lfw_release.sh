#!/usr/bin/env bash
# The README's results table: every method on all 7,701 LFW pair images (6,000 pairs, 10 folds) in one
# evaluation run, verification with two FR networks: the shared pretrained MobileFaceNet (main column; never
# updated and never used by a loss, though it is the starting point of the trained FR network) and the FR
# network trained jointly in the FH-GAN run ('joint', used in training, so it flatters FH-GAN). The table gets
# a "gap closed" column per FR network: (acc - acc_bicubic) / (acc_HR - acc_bicubic). A third FR network,
# 'scratch', is independent of both: a MobileFaceNet trained from random weights on the training faces only
# (docs/lab/options/train_arcface_scratch_cpu.yml, 400 it.), never inside any loss of the SR models. Add further FR
# networks with --extra-fr LABEL=OPTIONS.yml@WEIGHTS.pth (arguments are passed on to scripts/evaluate.py).
# DSNet-PSNR is the shipped dsnet-psnr-x4-cpu (the float16 file both FH-GAN runs start from).
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
DSNET='DSNet(config=cpu)'
python scripts/evaluate.py --out results/eval_lfw_all --lpips-images 500 \
  --method bilinear --method bicubic --method hr \
  --method "DSNet-PSNR=dsnet-psnr-x4-cpu" \
  --method "FH-GAN w/o identity=$DSNET@experiments/FHGAN_joint_noid_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN=$DSNET@experiments/FHGAN_joint_id_x4_cpu/models/net_g_600.pth" \
  --extra-fr "joint=docs/lab/options/fhgan_joint_id_cpu.yml@experiments/FHGAN_joint_id_x4_cpu/models/net_fr_600.pth" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  "$@"
