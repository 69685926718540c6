#!/usr/bin/env bash
# The README's main results table (README "Main results"): the paper's Table 2/3 rows for the models this
# project ships and their ablation partners, all on the 7,701 LFW pairs.txt images (6,000 pairs, 10 folds) in
# ONE evaluation run: PSNR / SSIM / LPIPS (500 evenly spaced images) and verification with three FR networks:
#   MFN      the shared pretrained MobileFaceNet, flip-concatenated (main column; never updated, never in a loss);
#   joint    the FR network trained jointly in the shipped FH-GAN run (it IS the identity network of training,
#            so it flatters FH-GAN);
#   scratch  a MobileFaceNet trained from random weights on the training faces only (independent of every loss).
# Rows: bilinear, bicubic (with and without 5 steps of back-projection), DSNet-PSNR, FH-GAN w/o identity loss
# (seeds 0-3 with test-time back-projection: the shipped model's pipeline; and trained through back-projection),
# the shipped FH-GAN (fhgan-x4-cpu), its recipe's seeds 0-3 and the recipe trained through back-projection, HR. Labels equal docs/lab/scripts/eval_lfw_bp.sh's, so that run's cached SR faces can
# be reused (cp -al results/eval_lfw_bp/cache/. results/eval_lfw_main/cache/). Methods whose checkpoint is
# missing are skipped with a message (re-create them with docs/lab/scripts/reproduce_cpu.sh). Extra arguments are
# passed on to scripts/evaluate.py.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
E=experiments
SHIPPED_RUN=$E/FHGAN_joint_id250_x4_cpu_bf16_b16  # the run fhgan-x4-cpu's generator comes from (its 600-it. weights)
methods=(--method bilinear --method bicubic --method "bicubic(back_projection=5)" --method hr
  --method "DSNet-PSNR (cpu, shipped)=dsnet-psnr-x4-cpu"
  --method "DSNet-PSNR (cpu, shipped) + BP5=DSNet(config=cpu,back_projection=5)@fhgan_plugin/weights/dsnet_psnr_x4_cpu.pth")
add() {  # label, run name: the run's 600-iteration generator with 5 back-projection steps on its output (for runs
       # trained with network_g:back_projection=5 that is the generator as trained)
  local ckpt="$E/$2/models/net_g_600.pth"
  if [ -f "$ckpt" ]; then methods+=(--method "$1=DSNet(config=cpu,back_projection=5)@$ckpt")
  else echo "skipped (no $ckpt): $1" >&2; fi
}
add "FH-GAN w/o identity (cpu, bf16, b16) + BP5" FHGAN_joint_noid_x4_cpu_bf16_b16
for s in 1 2 3; do
  add "FH-GAN w/o identity seed $s (cpu, bf16, b16) + BP5" FHGAN_joint_noid_x4_cpu_bf16_b16_seed$s
done
add "FH-GAN w/o identity trained with BP5 (cpu, bf16, b16)" FHGAN_joint_noid_bp5_x4_cpu_bf16_b16
for s in 1 2; do
  add "FH-GAN w/o identity trained with BP5 seed $s (cpu, bf16, b16)" FHGAN_joint_noid_bp5_x4_cpu_bf16_b16_seed$s
done
add "FH-GAN λ4 250 (cpu, bf16, b16) + BP5" FHGAN_joint_id250_x4_cpu_bf16_b16  # the shipped file's float32 original
for s in 1 2 3; do  # the shipped recipe's other seeds
  add "FH-GAN λ4 250 seed $s (cpu, bf16, b16) + BP5" FHGAN_joint_id250_x4_cpu_bf16_b16_seed$s
done
add "FH-GAN λ4 250 trained with BP5 (cpu, bf16, b16)" FHGAN_joint_id250_bp5_x4_cpu_bf16_b16
for s in 1 2; do
  add "FH-GAN λ4 250 trained with BP5 seed $s (cpu, bf16, b16)" FHGAN_joint_id250_bp5_x4_cpu_bf16_b16_seed$s
done
methods+=(--method "FH-GAN (shipped fhgan-x4-cpu: λ4 250 seed 0 + BP5, float16)=fhgan-x4-cpu")
python scripts/evaluate.py --out results/eval_lfw_main --lpips-images 500 "${methods[@]}" \
  --extra-fr "joint=options/train/FHGAN/train_FHGAN_x4_cpu.yml@$SHIPPED_RUN/models/net_fr_600.pth" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  "$@"
