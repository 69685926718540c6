"""Pair-list parsing (LFW, CFP) and the 10-fold verification protocol."""
from __future__ import annotations

import os

import numpy as np
import pytest

from fhgan_plugin.data.pairs import parse_cfp_pairs, parse_lfw_pairs, unique_images
from fhgan_plugin.metrics.verification import best_threshold, kfold_verification, paired_fold_difference


def test_lfw_pairs_synthetic(tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / 'pairs.txt'
    p.write_text('2\t1\nA\t1\t2\nB\t1\tC\t3\nD\t2\t4\nE\t1\tF\t1\n')
    pairs = parse_lfw_pairs(str(p))
    assert [(x.path1, x.path2, x.issame, x.fold) for x in pairs] == [
        ('A/A_0001.jpg', 'A/A_0002.jpg', True, 0), ('B/B_0001.jpg', 'C/C_0003.jpg', False, 0),
        ('D/D_0002.jpg', 'D/D_0004.jpg', True, 1), ('E/E_0001.jpg', 'F/F_0001.jpg', False, 1)]
    p.write_text('2\t1\nA\t1\t2\nB\tx\tC\t3\nD\t2\t4\nE\t1\tF\t1\n')
    with pytest.raises(ValueError, match=r'pairs.txt:3: malformed pair line'):
        parse_lfw_pairs(str(p))
    p.write_text('2\t1\nA\t1\t2\n')
    with pytest.raises(ValueError, match='header promises'):
        parse_lfw_pairs(str(p))
    p.write_text('ten folds\n')
    with pytest.raises(ValueError, match=r'pairs.txt:1'):
        parse_lfw_pairs(str(p))


def test_lfw_pairs_real(shared: str) -> None:
    pairs = parse_lfw_pairs(os.path.join(shared, 'data', 'lfw', 'pairs.txt'))
    assert len(pairs) == 6000 and sum(p.issame for p in pairs) == 3000
    assert sorted({p.fold for p in pairs}) == list(range(10))
    assert all(sum(p.fold == k for p in pairs) == 600 for k in range(10))
    assert [p.issame for p in pairs[:600]] == [True] * 300 + [False] * 300
    assert len(unique_images(pairs)) == 7701
    root = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled')
    assert all(os.path.isfile(os.path.join(root, r)) for r in unique_images(pairs)[:50])


def _cfp_fixture(root: str) -> str:
    proto = os.path.join(root, 'Protocol')
    os.makedirs(proto)
    with open(os.path.join(proto, 'Pair_list_F.txt'), 'w') as f:
        f.write(''.join(f'{i} ../Data/Images/{(i + 1) // 2:03d}/frontal/{2 - i % 2:02d}.jpg\n' for i in range(1, 7)))
    with open(os.path.join(proto, 'Pair_list_P.txt'), 'w') as f:
        f.write(''.join(f'{i} ../Data/Images/{i:03d}/profile/01.jpg\n' for i in range(1, 7)))
    for setting in ('FF', 'FP'):
        for split, (same, diff) in {'01': ('1,2', '1,3'), '02': ('3,4', '5,2')}.items():
            d = os.path.join(proto, 'Split', setting, split)
            os.makedirs(d)
            open(os.path.join(d, 'same.txt'), 'w').write(same + '\n')
            open(os.path.join(d, 'diff.txt'), 'w').write(diff + '\n')
    return proto


def test_cfp_pairs_synthetic(tmp_path) -> None:  # noqa: ANN001
    proto = _cfp_fixture(str(tmp_path))
    ff = parse_cfp_pairs(proto, 'FF')
    assert [(p.path1, p.path2, p.issame, p.fold) for p in ff] == [
        ('Data/Images/001/frontal/01.jpg', 'Data/Images/001/frontal/02.jpg', True, 0),
        ('Data/Images/001/frontal/01.jpg', 'Data/Images/002/frontal/01.jpg', False, 0),
        ('Data/Images/002/frontal/01.jpg', 'Data/Images/002/frontal/02.jpg', True, 1),
        ('Data/Images/003/frontal/01.jpg', 'Data/Images/001/frontal/02.jpg', False, 1)]
    fp = parse_cfp_pairs(proto, 'FP')
    assert fp[0].path2 == 'Data/Images/002/profile/01.jpg' and fp[0].path1 == 'Data/Images/001/frontal/01.jpg'
    with open(os.path.join(proto, 'Split', 'FP', '02', 'diff.txt'), 'w') as f:
        f.write('5,9\n')
    with pytest.raises(ValueError, match=r'02/diff.txt:1: index 9 is not in the pair list'):
        parse_cfp_pairs(proto, 'FP')
    with pytest.raises(ValueError, match="'FF' or 'FP'"):
        parse_cfp_pairs(proto, 'PP')


def test_best_threshold_by_hand() -> None:
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1])
    same = np.array([True, True, True, False, False, False])
    # sorted distinct scores .1 .2 .3 .6 .8 .9; threshold .7 (between .6 and .8) -> 5/6 correct,
    # threshold .25 (between .2 and .3) -> also 5/6; the lowest best one wins
    th, acc = best_threshold(scores, same)
    assert acc == pytest.approx(5 / 6) and th == pytest.approx(0.25)


def test_kfold_on_hand_worked_scores() -> None:
    # 3 folds of 4 pairs. Folds 0 and 1 are separable at any threshold in (0.4, 0.6);
    # fold 2 has one same-pair scored 0.5 (which thresholds in (0.4, 0.5) still accept).
    scores = np.array([0.9, 0.7, 0.3, 0.1,  0.8, 0.6, 0.4, 0.2,  0.95, 0.5, 0.35, 0.05])
    same = np.array([1, 1, 0, 0,  1, 1, 0, 0,  1, 1, 0, 0], bool)
    folds = np.repeat([0, 1, 2], 4)
    res = kfold_verification(scores, same, folds)
    # fold 0 held out: train on folds 1+2 -> candidates sorted, lowest perfect threshold is (0.4+0.5)/2=0.45
    # fold 1 held out: train folds 0+2 -> perfect range (0.35, 0.5) -> lowest midpoint (0.35+0.5)/2 = 0.425
    # fold 2 held out: train folds 0+1 -> perfect range (0.4, 0.6) -> midpoint (0.4+0.6)/2 = 0.5; then
    # the fold-2 same pair scored exactly 0.5 is not > 0.5: 3/4 correct.
    assert res.thresholds == pytest.approx([0.45, 0.425, 0.5])
    assert res.fold_accuracies == pytest.approx([1.0, 1.0, 0.75])
    assert res.accuracy == pytest.approx(2.75 / 3)
    assert res.std == pytest.approx(np.std([1, 1, 0.75]))


def test_kfold_default_folds_and_errors() -> None:
    rng = np.random.default_rng(0)
    same = np.tile([True] * 30 + [False] * 30, 10)
    scores = np.where(same, 1.0, -1.0) + rng.normal(0, 0.01, same.size)
    res = kfold_verification(scores, same)
    assert res.accuracy == 1.0 and len(res.fold_accuracies) == 10
    with pytest.raises(ValueError, match='NaN'):
        kfold_verification(np.array([np.nan, 1.0]), np.array([True, False]), np.array([0, 1]))


def test_paired_fold_difference_and_compare_script(tmp_path) -> None:  # noqa: ANN001
    """A lead that is small against each method's fold std but steady fold by fold."""
    import json

    from scripts.compare_folds import main as compare_main

    hard = np.array([94.0, 99.0, 96.0, 98.0, 95.0])  # fold difficulty shared by both methods
    a, b = hard + np.array([0.5, 0.7, 0.6, 0.4, 0.8]), hard
    c = paired_fold_difference(list(a), list(b))
    assert c.differences == pytest.approx([0.5, 0.7, 0.6, 0.4, 0.8])
    assert c.mean == pytest.approx(0.6) and c.std == pytest.approx(np.std([0.5, 0.7, 0.6, 0.4, 0.8]))
    assert (c.folds_a_better, c.folds_b_better) == (5, 0)
    assert c.mean < np.std(b)  # inside either method's own fold spread ...
    with pytest.raises(ValueError, match='same number'):
        paired_fold_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    rows = [{'method': 'A', 'acc': float(a.mean()), 'acc_std': float(a.std()), 'acc_folds': list(a),
             'acc@x': 90.0, 'acc_std@x': 1.0, 'acc_folds@x': [89.0, 91.0, 90.0, 90.0, 90.0]},
            {'method': 'B', 'acc': float(b.mean()), 'acc_std': float(b.std()), 'acc_folds': list(b)}]
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({'rows': rows}))
    out = compare_main([str(path), '--a', 'A', '--b', 'B', '--out', str(tmp_path / 'cmp.json')])
    assert out['mean'] == pytest.approx(0.6) and out['folds_a_better'] == 5
    assert not out['lead_over_both_fold_stds'] and out['lead_over_paired_std']  # ... but steady
    assert json.loads((tmp_path / 'cmp.json').read_text())['acc_b'] == pytest.approx(b.mean())
    with pytest.raises(KeyError, match='no method'):
        compare_main([str(path), '--a', 'A', '--b', 'C'])
    with pytest.raises(KeyError, match='acc_folds@x'):
        compare_main([str(path), '--a', 'A', '--b', 'B', '--fr', 'x'])


def test_compare_seeds_spread_and_paired_lead(tmp_path) -> None:  # noqa: ANN001
    """Per-seed leads, their sample std over seeds, and gap / PSNR spread of seed replicates."""
    import json
    import statistics

    from tests.conftest import lab_script
    seeds_main = lab_script('compare_seeds').main

    def row(method: str, acc: float, psnr: float, gap: float) -> dict:
        return {'method': method, 'acc': acc, 'acc_std': 0.8, 'gap': gap, 'psnr': psnr, 'ssim': 0.85,
                'lpips': None, 'acc@x': acc - 10, 'acc_std@x': 1.5}

    rows = [row('A', 97.4, 29.1, 0.46), row('A1', 97.1, 29.2, 0.36), row('A2', 97.3, 29.0, 0.43),
            row('B', 96.6, 30.7, 0.19), row('B1', 96.9, 30.6, 0.29), row('B2', 96.5, 30.8, 0.16)]
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({'rows': rows}))
    out = seeds_main([str(path), '--a', 'A, A1, A2', '--b', 'B,B1,B2', '--out', str(tmp_path / 's.json')])
    leads = [0.8, 0.2, 0.8]
    assert out['lead']['per_seed'] == pytest.approx(leads)
    assert out['lead']['mean'] == pytest.approx(0.6) and out['lead']['std'] == pytest.approx(statistics.stdev(leads))
    assert (out['lead']['seeds_a_better'], out['lead']['seeds_b_better']) == (3, 0)
    assert out['lead_over_seed_std'] and not out['lead_over_both_mean_fold_stds']  # 0.6 < fold std 0.8
    assert out['a']['acc_over_seeds']['mean'] == pytest.approx(97.2666, abs=1e-3)
    assert out['b']['psnr_over_seeds']['std'] == pytest.approx(0.1)
    assert out['a']['lpips_over_seeds'] == {'mean': None, 'std': None}
    assert json.loads((tmp_path / 's.json').read_text())['seeds'] == 3
    scratch = seeds_main([str(path), '--a', 'A,A1', '--b', 'B,B1', '--fr', 'x'])
    assert scratch['fr'] == 'x' and scratch['lead']['per_seed'] == pytest.approx([0.8, 0.2])
    rows += [row('C (x, y)', 97.0, 29.0, 0.3), row('D (x, y)', 96.0, 30.0, 0.0)]
    path.write_text(json.dumps({'rows': rows}))  # labels with commas: separated by '|'
    piped = seeds_main([str(path), '--a', 'A | C (x, y)', '--b', 'B|D (x, y)'])
    assert piped['lead']['per_seed'] == pytest.approx([0.8, 1.0])
    with pytest.raises(ValueError, match='same number'):
        seeds_main([str(path), '--a', 'A,A1', '--b', 'B'])
    with pytest.raises(KeyError, match='no method'):
        seeds_main([str(path), '--a', 'A,A9', '--b', 'B,B1'])
