#!/usr/bin/env bash
# Every command behind the README's CPU results, in order (2 CPU cores: several hours in all; each training
# run is resumable with --auto_resume). Run from the repository root inside the venv (scripts/install.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
python scripts/prepare_data.py                                                   # aligned faces + meta lists
# DSNet-PSNR (cpu width, 2,500 iterations, 44 min with one thread) and its shipped float16 copy
# fhgan_plugin/weights/dsnet_psnr_x4_cpu.pth, the generator start of both FH-GAN runs below
python fhgan_plugin/train.py -opt options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml --auto_resume
python scripts/make_release.py --name dsnet-psnr-x4-cpu --ckpt experiments/DSNet_PSNR_x4_cpu/models/net_g_latest.pth \
  --options options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml
# stage 1: ArcFace head + shared pretrained MobileFaceNet fine-tuned on HR faces; and the from-scratch run
python fhgan_plugin/train.py -opt options/train/ArcFace/train_ArcFace_MobileFaceNet_cpu.yml --auto_resume \
  --force_yml train:total_iter=340 logger:save_checkpoint_freq=150
# (the independent 'scratch' FR network of the evaluation: 400 iterations, lr x0.1 at 300)
python fhgan_plugin/train.py -opt docs/lab/options/train_arcface_scratch_cpu.yml --auto_resume \
  --force_yml train:total_iter=400 'train:scheduler:milestones=[300]' logger:save_checkpoint_freq=100
# stage 2: GAN DSNet from scratch (the paper's stage 2; the FH-GAN runs below start from DSNet-PSNR and a
# fresh critic, so they do not need it)
python fhgan_plugin/train.py -opt docs/lab/options/train_dsnet_gan_cpu.yml --auto_resume
# Table 1 ablation from DSNet-PSNR: FH-GAN without and with identity loss (the shipped model is the latter);
# 600 iterations each, 42 / 56 minutes side by side with OMP_NUM_THREADS=1 each (measured 2026-11-29)
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu.yml --auto_resume
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --auto_resume
# all methods, all 7,701 LFW pair images / 6,000 pairs, one evaluation run (3 FR networks); it names the
# runs' net_*_600.pth checkpoints, so the extension below does not change what it evaluates
bash docs/lab/scripts/eval_lfw_release.sh
# the shipped float16 generator + model card
python scripts/make_release.py --name fhgan-x4-cpu --ckpt experiments/FHGAN_joint_id_x4_cpu/models/net_g_600.pth \
  --options docs/lab/options/fhgan_joint_id_cpu.yml --eval-summary results/eval_lfw_all/summary.json
# speed
python scripts/benchmark.py --out results/benchmark.json --md results/benchmark.md --faces results/lfw_lr28
# measured and rejected (docs/experiments.md "The first Table 1 ablation"): both ablation runs continued to 1,200 iterations, then evaluated
# (run after the release evaluation: net_*_latest.pth then holds the 1,200-iteration weights)
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu.yml --auto_resume --force_yml train:total_iter=1200
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --auto_resume --force_yml train:total_iter=1200
python scripts/evaluate.py --out results/eval_lfw_1200 --lpips-images 500 --method bicubic --method hr \
  --method "FH-GAN w/o identity=DSNet(config=cpu)@experiments/FHGAN_joint_noid_x4_cpu/models/net_g_latest.pth" \
  --method "FH-GAN=DSNet(config=cpu)@experiments/FHGAN_joint_id_x4_cpu/models/net_g_latest.pth" \
  --extra-fr "joint=docs/lab/options/fhgan_joint_id_cpu.yml@experiments/FHGAN_joint_id_x4_cpu/models/net_fr_latest.pth" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth"
# measured and rejected, session 9 (docs/experiments.md "More measured and rejected"): checkpoint averaging, flip
# self-ensemble, joint-FR lr 1e-3 (each evaluated with bicubic / HR in one run, MFN only)
python docs/lab/scripts/average_checkpoints.py --out results/avg400_600.pth experiments/FHGAN_joint_id_x4_cpu/models/net_g_{400,450,500,550,600}.pth
python docs/lab/scripts/average_checkpoints.py --out results/avg300_600.pth experiments/FHGAN_joint_id_x4_cpu/models/net_g_{300,350,400,450,500,550,600}.pth
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_idfr3_x4_cpu train:optim_fr:lr=0.001
python scripts/evaluate.py --out results/eval_lfw_variants --lpips-vgg none --figure-pairs '' --method bicubic --method hr \
  --method "FH-GAN=DSNet(config=cpu)@experiments/FHGAN_joint_id_x4_cpu/models/net_g_600.pth" \
  --method "avg400-600=DSNet(config=cpu)@results/avg400_600.pth" --method "avg300-600=DSNet(config=cpu)@results/avg300_600.pth" \
  --method "FH-GAN+flip=DSNet(config=cpu,flip_ensemble=true)@experiments/FHGAN_joint_id_x4_cpu/models/net_g_600.pth" \
  --method "noid+flip=DSNet(config=cpu,flip_ensemble=true)@experiments/FHGAN_joint_noid_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN FR-lr 1e-3=DSNet(config=cpu)@experiments/FHGAN_joint_idfr3_x4_cpu/models/net_g_600.pth"
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_idaug_x4_cpu train:identity_opt:augment_views=1 train:identity_opt:max_shift=4
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_idaug8_x4_cpu train:identity_opt:augment_views=1 train:identity_opt:max_shift=8
python scripts/evaluate.py --out results/eval_lfw_variants --lpips-vgg none --figure-pairs '' --method bicubic --method hr \
  --method "FH-GAN id-aug shift4=DSNet(config=cpu)@experiments/FHGAN_joint_idaug_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN id-aug shift8=DSNet(config=cpu)@experiments/FHGAN_joint_idaug8_x4_cpu/models/net_g_600.pth"
# measured and rejected, session 10: joint-FR SGD lr 1e-5; joint FR started from the shared MobileFaceNet (no stage 1)
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_idfr5_x4_cpu train:optim_fr:lr=0.00001
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_idmfn_x4_cpu path:pretrain_network_fr=~
python scripts/evaluate.py --out results/eval_lfw_s10 --lpips-vgg none --figure-pairs '' --method bicubic --method hr \
  --method "FH-GAN FR-lr 1e-5=DSNet(config=cpu)@experiments/FHGAN_joint_idfr5_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN FR from MFN=DSNet(config=cpu)@experiments/FHGAN_joint_idmfn_x4_cpu/models/net_g_600.pth"
# session 10: seed replicate of the ablation pair. Run before the parse_options re-seeding patch, these gave weights
# byte-identical to the seed-0 runs (BasicSR seeded before applying --force_yml); with the patch they are real replicates.
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu.yml --force_yml name=FHGAN_joint_noid_seed1_x4_cpu manual_seed=1
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_id_seed1_x4_cpu manual_seed=1
# session 11: the seed-1 pair above (interrupted at it. 50 by the session end, resumed with --auto_resume) and a
# seed-2 pair, then all three seeds evaluated in one run (docs/lab/results/ablation_seeds.json, docs/experiments.md "Seed variance")
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu.yml --force_yml name=FHGAN_joint_noid_seed2_x4_cpu manual_seed=2
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_cpu.yml --force_yml name=FHGAN_joint_id_seed2_x4_cpu manual_seed=2
python scripts/evaluate.py --out results/eval_lfw_seeds --lpips-images 500 --figure-pairs '' --method bicubic --method hr \
  --method "FH-GAN w/o identity=DSNet(config=cpu)@experiments/FHGAN_joint_noid_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN=DSNet(config=cpu)@experiments/FHGAN_joint_id_x4_cpu/models/net_g_600.pth" \
  --extra-fr "scratch=docs/lab/options/train_arcface_scratch_cpu.yml@experiments/ArcFace_MobileFaceNet_scratch_v2_cpu/models/net_fr_latest.pth" \
  --method "FH-GAN w/o identity seed 1=DSNet(config=cpu)@experiments/FHGAN_joint_noid_seed1_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN seed 1=DSNet(config=cpu)@experiments/FHGAN_joint_id_seed1_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN w/o identity seed 2=DSNet(config=cpu)@experiments/FHGAN_joint_noid_seed2_x4_cpu/models/net_g_600.pth" \
  --method "FH-GAN seed 2=DSNet(config=cpu)@experiments/FHGAN_joint_id_seed2_x4_cpu/models/net_g_600.pth"
# paired per-fold comparison of the ablation pair (docs/lab/results/ablation_paired_folds.json), after docs/lab/scripts/eval_lfw_release.sh
python scripts/compare_folds.py results/eval_lfw_all/results.json --a FH-GAN --b "FH-GAN w/o identity"
python scripts/compare_folds.py results/eval_lfw_all/results.json --a FH-GAN --b "FH-GAN w/o identity" --fr joint
python scripts/compare_folds.py results/eval_lfw_all/results.json --a FH-GAN --b "FH-GAN w/o identity" --fr scratch
# session 12 (2026-11-30): the Table 1 ablation at the PAPER DSNet width, trained on the CPU in bfloat16
# (train.autocast: bfloat16 + train.channels_last: true; the machine of that session had AMX). Stage 1 as above.
python fhgan_plugin/train.py -opt docs/lab/options/train_dsnet_psnr_x4_bf16.yml --auto_resume           # 1,500 it.
OMP_NUM_THREADS=1 python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_bf16.yml --auto_resume &  # side by side
OMP_NUM_THREADS=1 python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_bf16.yml --auto_resume
wait
bash docs/lab/scripts/eval_lfw_bf16.sh
# (the paper-width FH-GAN runs above were stopped once net_*_600.pth was saved, skipping BasicSR's end-of-training
# validation; the with-identity run was also stopped at 250 and resumed with --force_yml val:val_freq=100000)
# session 12: does bfloat16 hurt fine-tuning? The shipped cpu-width DSNet-PSNR trained 200 more iterations at lr 1e-4
# (pixel MSE only) in float32 and in bfloat16 + channels_last; BasicSR's final validation gives PSNR on lfw_val500.
for v in fp32 bf16; do
  extra=""; [ "$v" = bf16 ] && extra="train:autocast=bfloat16 train:channels_last=true"
  python fhgan_plugin/train.py -opt options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml --force_yml name=PrecisionCheck_${v}_cpu \
    model_type=FaceSRModel path:pretrain_network_g=fhgan_plugin/weights/dsnet_psnr_x4_cpu.pth train:optim_g:lr=0.0001 \
    train:total_iter=200 'train:scheduler:periods=[200]' train:scheduler:eta_min=0.0001 val:val_freq=100000 $extra
done
# session 13 (2026-11-30): the cpu-width ablation pair with batch 16 (and 32) in bfloat16 (README "Larger batches in
# bfloat16"); side by side, OMP_NUM_THREADS=1 each; runs were stopped once net_*_600.pth was saved (skipping BasicSR's
# end-of-training validation) and trained with --force_yml val:val_freq=100000 (no validation; weights unaffected)
B16='val:val_freq=100000 logger:save_checkpoint_freq=100'
python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume --force_yml $B16
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --auto_resume --force_yml $B16
for s in 1 2; do
  python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume \
    --force_yml name=FHGAN_joint_id_x4_cpu_bf16_b16_seed$s manual_seed=$s $B16
done
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --auto_resume \
  --force_yml name=FHGAN_joint_noid_x4_cpu_bf16_b16_seed1 manual_seed=1 $B16
for v in id noid; do
  python fhgan_plugin/train.py -opt options/fhgan_joint_${v}_cpu_bf16.yml --auto_resume \
    --force_yml name=FHGAN_joint_${v}_x4_cpu_bf16_b32 datasets:train:batch_size_per_gpu=32 $B16
done
bash docs/lab/scripts/eval_lfw_cpu_bf16.sh
for p in "b16" "b16, seed 1" "b32"; do
  python scripts/compare_folds.py results/eval_lfw_paper/results.json --a "FH-GAN (cpu, bf16, $p)" \
    --b "FH-GAN w/o identity (cpu, bf16, $p)"
done
# session 14 (2026-11-30, last): an identity FEATURE loss beyond the paper (IdentityLoss feature_layers /
# feature_weight; docs/experiments.md "Identity feature loss"), batch 16 in bfloat16, with the batch-16 w/o-identity partner
# re-trained beside it (stage 1 and the scratch network re-created first, as at the top of this script)
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --auto_resume --force_yml $B16
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_idfeat_cpu_bf16.yml --auto_resume --force_yml $B16
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_idfeat_cpu_bf16.yml --auto_resume \
  --force_yml name=FHGAN_joint_idfeat01_x4_cpu_bf16_b16 train:identity_opt:feature_weight=0.1 $B16
# session 14: λ4 = 250 and 100 at batch 16 (side by side), then one evaluation of all session-14 runs
for w in 250 100; do
  python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume \
    --force_yml name=FHGAN_joint_id${w}_x4_cpu_bf16_b16 train:identity_opt:loss_weight=${w}.0 $B16
done
bash docs/lab/scripts/eval_lfw_idfeat.sh
# session 15 (2026-12-01): λ4 = 250 seeds 1-3, the seed-0 run trained on to 1,200 iterations (its run directory
# copied from FHGAN_joint_id250_x4_cpu_bf16_b16 so that --auto_resume continues from 600.state), λ4 = 350 seeds 0-1;
# then the same evaluation (it also builds the weight average of the λ4 = 250 seeds 0-2) (docs/experiments.md "Seeds, a weight average")
for s in 1 2 3; do
  python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume \
    --force_yml name=FHGAN_joint_id250_x4_cpu_bf16_b16_seed$s manual_seed=$s train:identity_opt:loss_weight=250.0 $B16
done
cp -r experiments/FHGAN_joint_id250_x4_cpu_bf16_b16 experiments/FHGAN_joint_id250_it1200_x4_cpu_bf16_b16
python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume --force_yml \
  name=FHGAN_joint_id250_it1200_x4_cpu_bf16_b16 train:identity_opt:loss_weight=250.0 train:total_iter=1200 $B16
python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume \
  --force_yml name=FHGAN_joint_id350_x4_cpu_bf16_b16 train:identity_opt:loss_weight=350.0 $B16
python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume \
  --force_yml name=FHGAN_joint_id350_x4_cpu_bf16_b16_seed1 manual_seed=1 train:identity_opt:loss_weight=350.0 $B16
bash docs/lab/scripts/eval_lfw_idfeat.sh
for m in "λ4 250 seed 1" "λ4 250 seed 2" "λ4 250 seed 3" "λ4 250 3-seed soup" "λ4 250 1200 it." "λ4 350" "λ4 350 seed 1"; do
  python scripts/compare_folds.py results/eval_lfw_idfeat/results.json --a "FH-GAN $m (cpu, bf16, b16)" \
    --b "FH-GAN w/o identity (cpu, bf16, b16)"
done
# session 16 (2026-12-01, later; docs/experiments.md "How far can the identity loss go?"): (1) per-term generator gradient norms
# and loss values at checkpoints of existing runs; (2) the upper bound, identity loss through the frozen evaluating
# MobileFaceNet (stage 2, not joint), seeds 0-1 side by side; (3) the capacity probe: paper-width DSNet-PSNR
# (two threads, 25 min), then the paper-width joint FH-GAN with λ4 50 and 100 at batch 8 side by side (~21 min each)
python docs/lab/scripts/loss_gradients.py --opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --run experiments/FHGAN_joint_id250_it1200_x4_cpu_bf16_b16 \
  --iters 100,600,1200 --force-yml train:identity_opt:loss_weight=250.0 --out results/loss_gradients/id250.json
python docs/lab/scripts/loss_gradients.py --opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --run experiments/FHGAN_joint_noid_x4_cpu_bf16_b16 \
  --iters 100,600 --out results/loss_gradients/noid.json
python docs/lab/scripts/loss_gradients.py --opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --run experiments/FHGAN_joint_id100_x4_cpu_bf16_b16 \
  --iters 600 --force-yml train:identity_opt:loss_weight=100.0 --out results/loss_gradients/id100.json
for s in 0 1; do
  n=DSNetGAN_idMFNfrozen250_x4_cpu_bf16_b16; [ $s = 1 ] && n=${n}_seed1
  python fhgan_plugin/train.py -opt docs/lab/options/dsnet_gan_id_mfn_frozen_cpu_bf16.yml --auto_resume --force_yml name=$n manual_seed=$s $B16
done
python docs/lab/scripts/loss_gradients.py --opt docs/lab/options/dsnet_gan_id_mfn_frozen_cpu_bf16.yml --run experiments/DSNetGAN_idMFNfrozen250_x4_cpu_bf16_b16 \
  --iters 0,100,600 --eval-meta datasets/meta/lfw_val500.txt --out results/loss_gradients/bound.json
OMP_NUM_THREADS=2 python fhgan_plugin/train.py -opt docs/lab/options/train_dsnet_psnr_x4_bf16.yml --auto_resume
for w in 50 100; do
  python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_id_bf16.yml --auto_resume --force_yml name=FHGAN_joint_id${w}_x4_bf16 \
    train:identity_opt:loss_weight=${w}.0 $B16
done
bash docs/lab/scripts/eval_lfw_idfeat.sh
# session 17 (2026-12-01, docs/experiments.md "LR-consistent outputs: iterative back-projection"): back-projection at test time
# (`back_projection=5` in a method spec) on the existing runs, and FH-GAN trained with back-projection inside the
# generator (network_g:back_projection=5): λ4 250 seeds 0-3 and the w/o-identity partner (~27 / 19 min, two side by side)
for s in 0 1 2 3; do
  n=FHGAN_joint_id250_bp5_x4_cpu_bf16_b16; [ $s != 0 ] && n=${n}_seed$s
  python fhgan_plugin/train.py -opt options/train/FHGAN/train_FHGAN_x4_cpu.yml --auto_resume --force_yml name=$n manual_seed=$s \
    train:identity_opt:loss_weight=250.0 network_g:back_projection=5 $B16
done
python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --auto_resume \
  --force_yml name=FHGAN_joint_noid_bp5_x4_cpu_bf16_b16 network_g:back_projection=5 $B16
bash docs/lab/scripts/eval_lfw_bp.sh
# the shipped fhgan-x4-cpu since session 17: the λ4 250 seed-0 generator, back_projection: 5 in its model-zoo arch;
# the main job's evaluation (scripts/run_main.sh) supplies the model card's table
python scripts/evaluate.py --method bicubic --method hr --method FH-GAN=fhgan-x4-cpu --lpips-images 500 --out results/eval_lfw_shipped
python scripts/make_release.py --name fhgan-x4-cpu --ckpt experiments/FHGAN_joint_id250_x4_cpu_bf16_b16/models/net_g_600.pth \
  --options "options/train/FHGAN/train_FHGAN_x4_cpu.yml --force_yml train:identity_opt:loss_weight=250.0" \
  --eval-summary results/eval_lfw_shipped/summary.json
# session 18 (2026-12-01, README "Main results"): the w/o-identity partner re-run with seeds 1-3 (the shipped recipe had
# 4 seeds, its partner 1) and trained through back-projection with seeds 1-2; two side by side, one thread each
# (~8 / ~14 min); then the back-projection evaluation (new rows only; cached rows reused) and the consolidated
# main table (one run: PSNR / SSIM / LPIPS and verification with MFN, the shipped run's joint FR and the scratch FR)
for s in 1 2 3; do
  python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --auto_resume \
    --force_yml name=FHGAN_joint_noid_x4_cpu_bf16_b16_seed$s manual_seed=$s $B16
done
for s in 1 2; do
  python fhgan_plugin/train.py -opt docs/lab/options/fhgan_joint_noid_cpu_bf16.yml --auto_resume \
    --force_yml name=FHGAN_joint_noid_bp5_x4_cpu_bf16_b16_seed$s manual_seed=$s network_g:back_projection=5 $B16
done
bash docs/lab/scripts/eval_lfw_bp.sh
bash docs/lab/scripts/eval_lfw_main.sh
python docs/lab/scripts/compare_seeds.py results/eval_lfw_main/results.json \
  --a "$(printf 'FH-GAN λ4 250%s (cpu, bf16, b16) + BP5|' '' ' seed 1' ' seed 2' ' seed 3')" \
  --b "$(printf 'FH-GAN w/o identity%s (cpu, bf16, b16) + BP5|' '' ' seed 1' ' seed 2' ' seed 3')"
python docs/lab/scripts/compare_seeds.py results/eval_lfw_main/results.json \
  --a "$(printf 'FH-GAN λ4 250 trained with BP5%s (cpu, bf16, b16)|' '' ' seed 1' ' seed 2')" \
  --b "$(printf 'FH-GAN w/o identity trained with BP5%s (cpu, bf16, b16)|' '' ' seed 1' ' seed 2')"
