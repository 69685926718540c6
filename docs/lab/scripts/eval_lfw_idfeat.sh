#!/usr/bin/env bash
# One all-pairs LFW evaluation of session 14's and 15's runs (docs/experiments.md "Identity feature loss and λ4 at batch 16"): the
# identity-feature-loss runs, λ4 = 100 / 250 / 350 at batch 16 (250: four seeds, a weight average of three and a 1200-iteration run; 350: two seeds), beside bicubic, HR, the shipped FH-GAN and their batch-16
# bfloat16 w/o-identity partner. Two FR networks: the shared
# MobileFaceNet (main) and the from-scratch MobileFaceNet (independent of every loss). Per-method results are cached
# under results/eval_lfw_idfeat/cache (content-hashed). No LPIPS (a variants table, like sessions 9-10). Methods whose checkpoint is missing are skipped with a
# message. Extra arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
CPU='DSNet(config=cpu)'
E=experiments
methods=(--method bicubic --method hr
  --method "FH-GAN (cpu, shipped)=fhgan-x4-cpu")
add() {  # label, run name
  local ckpt="$E/$2/models/net_g_600.pth"
  if [ -f "$ckpt" ]; then methods+=(--method "$1=$CPU@$ckpt"); else echo "skipped (no $ckpt): $1" >&2; fi
}
add "FH-GAN w/o identity (cpu, bf16, b16)" FHGAN_joint_noid_x4_cpu_bf16_b16
add "FH-GAN (cpu, bf16, b16)" FHGAN_joint_id_x4_cpu_bf16_b16
add "FH-GAN + id. features 0.03 (cpu, bf16, b16)" FHGAN_joint_idfeat_x4_cpu_bf16_b16
add "FH-GAN + id. features 0.1 (cpu, bf16, b16)" FHGAN_joint_idfeat01_x4_cpu_bf16_b16
add "FH-GAN λ4 100 (cpu, bf16, b16)" FHGAN_joint_id100_x4_cpu_bf16_b16
add "FH-GAN λ4 250 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16
# session 15: seeds 1 and 2 of λ4 250, λ4 250 trained on to 1200 iterations, λ4 350
add "FH-GAN λ4 250 seed 1 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16_seed1
add "FH-GAN λ4 250 seed 2 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16_seed2
add "FH-GAN λ4 250 seed 3 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16_seed3
add "FH-GAN λ4 350 (cpu, bf16, b16)" FHGAN_joint_id350_x4_cpu_bf16_b16
add "FH-GAN λ4 350 seed 1 (cpu, bf16, b16)" FHGAN_joint_id350_x4_cpu_bf16_b16_seed1
# uniform weight average ("model soup") of the three λ4 250 seeds: all fine-tuned from the same DSNet-PSNR start
soup=$E/FHGAN_joint_id250_soup3_x4_cpu_bf16_b16/net_g_soup3.pth
seeds=("$E"/FHGAN_joint_id250_x4_cpu_bf16_b16{,_seed1,_seed2}/models/net_g_600.pth)
if ls "${seeds[@]}" > /dev/null 2>&1; then
  mkdir -p "$(dirname "$soup")" && python docs/lab/scripts/average_checkpoints.py --out "$soup" "${seeds[@]}"
  methods+=(--method "FH-GAN λ4 250 3-seed soup (cpu, bf16, b16)=$CPU@$soup")
else echo "skipped (a λ4 250 seed checkpoint is missing): FH-GAN λ4 250 3-seed soup" >&2; fi
# session 16: upper bound, the identity loss computed with the evaluating MobileFaceNet itself, frozen (stage 2, not joint)
add "DSNet-GAN + frozen-MFN identity λ4 250 (bound; cpu, bf16, b16)" DSNetGAN_idMFNfrozen250_x4_cpu_bf16_b16
add "DSNet-GAN + frozen-MFN identity λ4 250 seed 1 (bound; cpu, bf16, b16)" DSNetGAN_idMFNfrozen250_x4_cpu_bf16_b16_seed1
# session 16: capacity probe, the paper-width joint FH-GAN (docs/lab/options/fhgan_joint_id_bf16.yml, batch 8) with λ4 50 / 100,
# from the paper-width DSNet-PSNR (docs/lab/options/train_dsnet_psnr_x4_bf16.yml), which is evaluated too
PAPER='DSNet(config=paper)'
for spec in "DSNet-PSNR (paper width, bf16)|DSNet_PSNR_x4_bf16|1500" "FH-GAN λ4 50 (paper width, bf16, b8)|FHGAN_joint_id50_x4_bf16|600" \
    "FH-GAN λ4 100 (paper width, bf16, b8)|FHGAN_joint_id100_x4_bf16|600"; do
  IFS='|' read -r label run it <<< "$spec"
  ckpt=$E/$run/models/net_g_$it.pth
  if [ -f "$ckpt" ]; then methods+=(--method "$label=$PAPER@$ckpt"); else echo "skipped (no $ckpt): $label" >&2; fi
done
ckpt=$E/FHGAN_joint_id250_it1200_x4_cpu_bf16_b16/models/net_g_1200.pth
if [ -f "$ckpt" ]; then methods+=(--method "FH-GAN λ4 250 1200 it. (cpu, bf16, b16)=$CPU@$ckpt")
else echo "skipped (no $ckpt): FH-GAN λ4 250 1200 it." >&2; fi
python scripts/evaluate.py --out results/eval_lfw_idfeat --lpips-vgg none --figure-pairs '' "${methods[@]}" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  "$@"
