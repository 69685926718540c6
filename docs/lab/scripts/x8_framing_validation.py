"""Lab diagnostic (docs/experiments.md, "The x8 benchmark's two framings"), validation identities only: the shipped
x8 models' PSNR gain over bicubic (Y, crop 8) on the 567 x8 validation faces aligned to the CelebA-1000 mean framing
(what they were trained on) and to the Helen-50 mean framing. No test image is read, only the Helen-50 mean landmarks.

    python docs/lab/scripts/x8_framing_validation.py   # after scripts/prepare_data.py

writes docs/lab/results/x8_framing_validation.json.
"""
import json
import os

import cv2
import numpy as np
import torch

from fhgan_plugin.data.alignment import estimate_similarity
from fhgan_plugin.data.degradation import matlab_bicubic_degradation
from fhgan_plugin.data.face_sr_x8 import helen_template, read_template
from fhgan_plugin.data.prepare import read_manifest, read_rgb
from fhgan_plugin.inference import load_generator
from fhgan_plugin.model_zoo import resolve_weights
from fhgan_plugin.utils.metrics import psnr_ssim_batch, to_uint8
from fhgan_plugin.utils.upsample import opencv_bicubic

torch.set_num_threads(1)
D = 'datasets'
templates = {'celeba1000 framing': read_template(f'{D}/face_sr_x8/template128.json'),
             'helen50 framing': helen_template(f'{D}/face_sr_x8')}
man = read_manifest(f'{D}/faces112/celeba/manifest.csv')
shared = os.environ.get('SHARED', '../shared')
root = f'{shared}/data/celeba_id299'
vals = [line.strip() for line in open(f'{D}/meta/x8_val_images.txt') if line.strip()]
rels = []
for v in vals:
    stem = v.split('/', 1)[1]
    cand = [r for r in (stem[:-4] + '.jpg', stem[:-4] + '.png') if r in man]
    rels.append(cand[0])
models = {n: load_generator(*resolve_weights(n)) for n in ('dsnet-psnr-x8-cpu', 'edsr-x8-cpu')}
out = {}
for tname, tpl in templates.items():
    faces = []
    for rel in rels:
        lms = np.array(man[rel]['landmarks'].split(), float).reshape(5, 2)
        img = read_rgb(os.path.join(root, rel))
        mat = estimate_similarity(lms, tpl)
        faces.append(cv2.warpAffine(np.ascontiguousarray(img), mat, (128, 128), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0))
    hr8 = torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).contiguous()
    hr = hr8.float() / 255
    lq = matlab_bicubic_degradation(hr, 8)
    res = {'bicubic-opencv': to_uint8(opencv_bicubic(lq, 8))}
    with torch.no_grad():
        for n, net in models.items():
            res[n] = torch.cat([to_uint8(net(lq[i:i + 64]).clamp(0, 1)) for i in range(0, len(lq), 64)])
    row = {}
    for n, sr in res.items():
        p, s = psnr_ssim_batch(sr, hr8, 8, True)
        row[n] = (float(np.mean(p)), float(np.mean(s)))
    row['gain_dsnet_db'] = row['dsnet-psnr-x8-cpu'][0] - row['bicubic-opencv'][0]
    row['gain_edsr_db'] = row['edsr-x8-cpu'][0] - row['bicubic-opencv'][0]
    out[tname] = row
    print(tname, json.dumps(row))
summary = {'images': len(rels), 'templates': {k: v.round(2).tolist() for k, v in templates.items()}, 'results': out}
with open('docs/lab/results/x8_framing_validation.json', 'w') as f:
    json.dump(summary, f, indent=1)
