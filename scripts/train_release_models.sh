#!/usr/bin/env bash
# Re-create the shipped generators (fhgan_plugin/model_zoo.py) from a clean checkout, each from its one options file.
# Every run validates on the held-out CelebA identities (datasets/meta/val_pairs.txt); LFW is not used here.
# On a 2-core CPU: ~25 min for the x4 models (stage 1 and DSNet-PSNR side by side, then FH-GAN), ~2 h for x8. Each run resumes with
# --auto_resume if interrupted. Run from anywhere after `bash scripts/install.sh`; the final LFW evaluation of the
# released models is `bash scripts/evaluate_release.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${FHGAN_VENV:-.venv}/bin/python"
train() { "$PY" fhgan_plugin/train.py -opt "$1" --auto_resume; }

"$PY" scripts/prepare_data.py                                    # aligned faces, training list, validation pairs
# stage 1 (ArcFace fine-tuning of the shared MobileFaceNet) and DSNet-PSNR are independent: one thread each
OMP_NUM_THREADS=1 train options/train/ArcFace/train_ArcFace_MobileFaceNet_cpu.yml &
OMP_NUM_THREADS=1 train options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml
wait
"$PY" scripts/make_release.py --name dsnet-psnr-x4-cpu           # -> fhgan_plugin/weights/dsnet_psnr_x4_cpu.pth
train options/train/FHGAN/train_FHGAN_x4_cpu.yml                 # starts from that file and from stage 1
"$PY" scripts/make_release.py --name fhgan-x4-cpu                # -> fhgan_plugin/weights/fhgan_x4_cpu.pth

# the model for real low-resolution faces (docs/results/real_lr.md), ~45 min on 2 cores: fhgan-x4-cpu trained on with the
# surveillance degradation, beside its w/o-identity partner (not shipped: the results table's ablation row);
# checkpoints chosen on the validation identities' gallery-probe pairs with surveillance probes
OMP_NUM_THREADS=1 train options/train/FHGAN/train_FHGAN_x4_real_cpu.yml &
OMP_NUM_THREADS=1 train options/train/FHGAN/train_FHGAN_x4_real_noid_cpu.yml
wait
"$PY" scripts/make_release.py --name fhgan-x4-real-cpu --select verification@val_pairs_real  # -> fhgan_x4_real_cpu.pth

# x8 benchmark models (16x16 -> 128x128; docs/results/x8_benchmark.md), ~2 h on 2 cores with bfloat16 (~3 h without):
# DSNet-PSNR x8 beside its BasicSR baseline (EDSR x8, the table's same-budget row, shipped as edsr-x8-cpu so that the
# table is re-made by one command), then stage 1 at x8, then FH-GAN x8 beside its w/o-identity partner (shipped as
# fhgan-x8-noid-cpu, also a table row); checkpoints chosen on the x8 validation identities (--select).
OMP_NUM_THREADS=1 train options/train/DSNet/train_DSNet_PSNR_x8_cpu.yml &
OMP_NUM_THREADS=1 train options/train/EDSR/train_EDSR_x8_cpu.yml
wait
"$PY" scripts/make_release.py --name dsnet-psnr-x8-cpu --select psnr@x8_val_faces_2framings  # -> fhgan_plugin/weights/dsnet_psnr_x8_cpu.pth
"$PY" scripts/make_release.py --name edsr-x8-cpu --select psnr@x8_val_faces_2framings        # -> fhgan_plugin/weights/edsr_x8_cpu.pth
train options/train/ArcFace/train_ArcFace_MobileFaceNet_x8_cpu.yml
OMP_NUM_THREADS=1 train options/train/FHGAN/train_FHGAN_x8_cpu.yml &
OMP_NUM_THREADS=1 train options/train/FHGAN/train_FHGAN_x8_noid_cpu.yml
wait
"$PY" scripts/make_release.py --name fhgan-x8-cpu --select verification  # -> fhgan_plugin/weights/fhgan_x8_cpu.pth
"$PY" scripts/make_release.py --name fhgan-x8-noid-cpu --select verification  # the table's w/o-identity row
