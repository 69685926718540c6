#!/usr/bin/env bash
# One all-pairs LFW evaluation of the cpu-width Table 1 ablation re-trained in bfloat16 with batch 16 and 32 (session 13;
# docs/experiments.md "Larger batches in bfloat16") beside the baselines and the shipped float32 models. Two FR networks: the shared
# MobileFaceNet (main) and the from-scratch MobileFaceNet (independent of every loss). Per-method results and SR faces
# are cached under results/eval_lfw_paper/cache (content-hashed), shared with docs/lab/scripts/eval_lfw_bf16.sh, so rows
# computed by either script come from the same FR networks and faces. Extra arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
CPU='DSNet(config=cpu)'
E=experiments
python scripts/evaluate.py --out results/eval_lfw_paper --lpips-images 500 --figure-pairs '' \
  --method bicubic --method hr \
  --method "DSNet-PSNR (cpu, shipped)=dsnet-psnr-x4-cpu" --method "FH-GAN (cpu, shipped)=fhgan-x4-cpu" \
  --method "FH-GAN w/o identity (cpu, bf16, b16)=$CPU@$E/FHGAN_joint_noid_x4_cpu_bf16_b16/models/net_g_600.pth" \
  --method "FH-GAN (cpu, bf16, b16)=$CPU@$E/FHGAN_joint_id_x4_cpu_bf16_b16/models/net_g_600.pth" \
  --method "FH-GAN w/o identity (cpu, bf16, b16, seed 1)=$CPU@$E/FHGAN_joint_noid_x4_cpu_bf16_b16_seed1/models/net_g_600.pth" \
  --method "FH-GAN (cpu, bf16, b16, seed 1)=$CPU@$E/FHGAN_joint_id_x4_cpu_bf16_b16_seed1/models/net_g_600.pth" \
  --method "FH-GAN (cpu, bf16, b16, seed 2)=$CPU@$E/FHGAN_joint_id_x4_cpu_bf16_b16_seed2/models/net_g_600.pth" \
  --method "FH-GAN w/o identity (cpu, bf16, b32)=$CPU@$E/FHGAN_joint_noid_x4_cpu_bf16_b32/models/net_g_600.pth" \
  --method "FH-GAN (cpu, bf16, b32)=$CPU@$E/FHGAN_joint_id_x4_cpu_bf16_b32/models/net_g_600.pth" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  "$@"
