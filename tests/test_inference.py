"""fhgan-hallucinate: aligned and photo modes, bad files, model loading errors."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch

from fhgan_plugin.archs import DSNet
from fhgan_plugin.errors import InputError
from fhgan_plugin.inference import hallucinate, load_generator, main
from fhgan_plugin.utils.checkpoint import CheckpointMismatchError
from tests.conftest import write_faces


def test_aligned_mode_keeps_names_and_skips_bad_files(tmp_path, cpu_weights: str) -> None:  # noqa: ANN001
    rels = write_faces(str(tmp_path / 'lr'), 5, size=28)
    cv2.imwrite(str(tmp_path / 'lr' / 'odd_size.jpg'), np.full((20, 24, 3), 128, np.uint8))
    (tmp_path / 'lr' / 'id0' / 'broken.png').write_bytes(b'not a png')
    report = hallucinate(str(tmp_path / 'lr'), str(tmp_path / 'sr'), cpu_weights, batch_size=2)
    assert len(report.written) == 6 and report.faces == 6
    assert [os.path.basename(f) for f, _ in report.failed] == ['broken.png']
    for rel in rels:
        out = cv2.imread(str(tmp_path / 'sr' / rel))
        assert out.shape == (112, 112, 3)
    assert cv2.imread(str(tmp_path / 'sr' / 'odd_size.png')).shape == (80, 96, 3)
    # the written face is the network's output on the uint8 input, rounded to uint8
    lr = cv2.imread(str(tmp_path / 'lr' / rels[0]))[..., ::-1].copy()
    with torch.no_grad():
        ref = load_generator(cpu_weights)(torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255)[0]
    ref = (ref.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(cv2.imread(str(tmp_path / 'sr' / rels[0]))[..., ::-1].astype(int) - ref).max() <= 1


def test_cli_single_file_and_errors(tmp_path, cpu_weights: str) -> None:  # noqa: ANN001
    write_faces(str(tmp_path / 'lr'), 1, size=28)
    summary = main([str(tmp_path / 'lr' / 'id0' / '000.png'), '-o', str(tmp_path / 'out'), '--weights', cpu_weights])
    assert summary == {'inputs': 1, 'written': 1, 'faces': 1, 'failed': []} and (tmp_path / 'out' / '000.png').is_file()
    with pytest.raises(InputError, match='neither a file nor a folder'):
        hallucinate(str(tmp_path / 'nope'), str(tmp_path / 'out'), cpu_weights)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        hallucinate(str(tmp_path / 'lr'), str(tmp_path / 'out'), str(tmp_path / 'missing.pth'))
    torch.save({'params': DSNet(num_feat=8, num_block=1, num_layer=2, growth=4, num_bottleneck=8).state_dict()},
               str(tmp_path / 'odd.pth'))
    with pytest.raises(CheckpointMismatchError, match='fits none of the DSNet configs'):
        load_generator(str(tmp_path / 'odd.pth'))
    net = load_generator(str(tmp_path / 'odd.pth'), {'type': 'DSNet', 'num_feat': 8, 'num_block': 1, 'num_layer': 2,
                                                    'growth': 4, 'num_bottleneck': 8})
    assert net(torch.rand(1, 3, 7, 7)).shape == (1, 3, 28, 28)


@pytest.mark.shared
def test_photo_mode_pastes_faces_back(shared: str, tmp_path, cpu_weights: str) -> None:  # noqa: ANN001
    src = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg')
    img = cv2.imread(src)
    small = cv2.resize(img, (62, 62), interpolation=cv2.INTER_AREA)  # a ~28 px face in a low-res photo
    os.makedirs(tmp_path / 'photos')
    cv2.imwrite(str(tmp_path / 'photos' / 'aaron.png'), small)
    cv2.imwrite(str(tmp_path / 'photos' / 'blank.png'), np.zeros((40, 40, 3), np.uint8))
    report = hallucinate(str(tmp_path / 'photos'), str(tmp_path / 'out'), cpu_weights, mode='photo',
                         detector_root=os.path.join(shared, 'models', 'facexlib'))
    assert report.failed == [] and len(report.written) == 3 and report.faces == 1  # 2 photos + 1 face crop
    out = cv2.imread(str(tmp_path / 'out' / 'aaron.png'))
    assert out.shape == (248, 248, 3)
    assert cv2.imread(str(tmp_path / 'out' / 'aaron_face0.png')).shape == (112, 112, 3)
    bicubic = cv2.resize(small, (248, 248), interpolation=cv2.INTER_CUBIC)
    changed = np.abs(out.astype(int) - bicubic.astype(int)).sum(2) > 0
    ys, xs = np.nonzero(changed)
    # only the face region was replaced, and it lies around the photo's centre
    assert 0.05 < changed.mean() < 0.6 and 60 < ys.mean() < 190 and 60 < xs.mean() < 190


def test_output_scale_reads_dsnet_and_measures_basicsr_archs() -> None:
    """The factor photo mode checks: DSNet's ``upscale`` attribute; BasicSR archs keep none, so it is measured."""
    from basicsr.archs.edsr_arch import EDSR
    from basicsr.archs.srresnet_arch import MSRResNet

    from fhgan_plugin.inference import output_scale
    assert output_scale(DSNet.from_config('cpu', upscale=8)) == 8
    edsr = EDSR(3, 3, num_feat=8, num_block=1, upscale=8)
    assert not hasattr(edsr, 'upscale') and output_scale(edsr) == 8
    assert output_scale(MSRResNet(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=4)) == 4
