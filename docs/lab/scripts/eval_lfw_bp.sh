#!/usr/bin/env bash
# One all-pairs LFW evaluation of test-time iterative back-projection (docs/experiments.md "LR-consistent outputs: back-projection"):
# every main FH-GAN model with and without `back_projection=5` (5 steps of
# fhgan_plugin.data.degradation.back_project, which makes an SR face's canonical LR match its input), beside bicubic
# and HR. Two FR networks: the shared MobileFaceNet (main) and the from-scratch MobileFaceNet (independent of every
# loss). Per-method results are cached under results/eval_lfw_bp/cache (content-hashed). No LPIPS. Methods whose
# checkpoint is missing are skipped with a message. Extra arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
E=experiments
K=${BP_ITERS:-5}
methods=(--method bicubic --method "bicubic(back_projection=$K)" --method hr
  --method "DSNet-PSNR (cpu, shipped)=dsnet-psnr-x4-cpu"
  --method "DSNet-PSNR (cpu, shipped) + BP$K=DSNet(config=cpu,back_projection=$K)@fhgan_plugin/weights/dsnet_psnr_x4_cpu.pth"
  --method "FH-GAN (shipped fhgan-x4-cpu: λ4 250 seed 0 + BP5, float16)=fhgan-x4-cpu")
# the generator shipped as fhgan-x4-cpu until 2026-12-01 (λ4 150, batch 8, float16), taken from git history
old=$E/fhgan_x4_cpu_until_20261201.pth
[ -f "$old" ] || { mkdir -p $E && git show 830aff9:fhgan_plugin/weights/fhgan_x4_cpu.pth > "$old"; }
methods+=(--method "FH-GAN λ4 150 (cpu, b8; shipped until 2026-12-01)=DSNet(config=cpu)@$old"
  --method "FH-GAN λ4 150 (cpu, b8; shipped until 2026-12-01) + BP$K=DSNet(config=cpu,back_projection=$K)@$old")
add() {  # label, run name: the run's 600-iteration generator, without and with back-projection
  local ckpt="$E/$2/models/net_g_600.pth"
  if [ -f "$ckpt" ]; then
    methods+=(--method "$1=DSNet(config=cpu)@$ckpt" --method "$1 + BP$K=DSNet(config=cpu,back_projection=$K)@$ckpt")
  else echo "skipped (no $ckpt): $1" >&2; fi
}
add "FH-GAN w/o identity (cpu, bf16, b16)" FHGAN_joint_noid_x4_cpu_bf16_b16
add "FH-GAN w/o identity seed 1 (cpu, bf16, b16)" FHGAN_joint_noid_x4_cpu_bf16_b16_seed1
add "FH-GAN w/o identity seed 2 (cpu, bf16, b16)" FHGAN_joint_noid_x4_cpu_bf16_b16_seed2
add "FH-GAN w/o identity seed 3 (cpu, bf16, b16)" FHGAN_joint_noid_x4_cpu_bf16_b16_seed3
add "FH-GAN λ4 250 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16
add "FH-GAN λ4 250 seed 1 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16_seed1
add "FH-GAN λ4 250 seed 2 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16_seed2
add "FH-GAN λ4 250 seed 3 (cpu, bf16, b16)" FHGAN_joint_id250_x4_cpu_bf16_b16_seed3
# trained with back-projection inside the generator (network_g:back_projection=5): evaluated as trained
add_trained() {  # label, run name
  local ckpt="$E/$2/models/net_g_600.pth"
  if [ -f "$ckpt" ]; then methods+=(--method "$1=DSNet(config=cpu,back_projection=5)@$ckpt")
  else echo "skipped (no $ckpt): $1" >&2; fi
}
add_trained "FH-GAN λ4 250 trained with BP5 (cpu, bf16, b16)" FHGAN_joint_id250_bp5_x4_cpu_bf16_b16
add_trained "FH-GAN λ4 250 trained with BP5 seed 1 (cpu, bf16, b16)" FHGAN_joint_id250_bp5_x4_cpu_bf16_b16_seed1
add_trained "FH-GAN λ4 250 trained with BP5 seed 2 (cpu, bf16, b16)" FHGAN_joint_id250_bp5_x4_cpu_bf16_b16_seed2
add_trained "FH-GAN λ4 250 trained with BP5 seed 3 (cpu, bf16, b16)" FHGAN_joint_id250_bp5_x4_cpu_bf16_b16_seed3
add_trained "FH-GAN w/o identity trained with BP5 (cpu, bf16, b16)" FHGAN_joint_noid_bp5_x4_cpu_bf16_b16
add_trained "FH-GAN w/o identity trained with BP5 seed 1 (cpu, bf16, b16)" FHGAN_joint_noid_bp5_x4_cpu_bf16_b16_seed1
add_trained "FH-GAN w/o identity trained with BP5 seed 2 (cpu, bf16, b16)" FHGAN_joint_noid_bp5_x4_cpu_bf16_b16_seed2
python scripts/evaluate.py --out results/eval_lfw_bp --lpips-vgg none --figure-pairs '' "${methods[@]}" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  "$@"
