"""The validation split: held-out CelebA identities, disjoint from training and from LFW."""
from __future__ import annotations

import json
import os

import pytest

from fhgan_plugin.data.pairs import parse_pairs_list, read_pairs_file, write_pairs_list
from fhgan_plugin.data.validation_split import (
    VAL_IDENTITIES_FILE,
    SplitConfig,
    choose_validation_identities,
    identity_images,
    make_validation_pairs,
    read_identity_list,
)
from tests.conftest import REPO

REPORT = os.path.join(REPO, 'docs', 'results', 'validation_split.json')


def _training_rows(shared: str) -> list[tuple[str, str]]:
    """The rows scripts/prepare_data.py trains on, built the same way from the raw ../shared listing."""
    lfw = os.path.join(shared, 'data', 'lfw')
    with open(os.path.join(lfw, 'train_people_not_in_pairs.txt')) as f:
        lfw_people = [ln.strip() for ln in f if ln.strip()]
    rows = [(f'lfw_train/{r}', f'lfw:{r.split("/")[0]}')
            for ims in identity_images(os.path.join(lfw, 'images_deepfunneled'), lfw_people).values() for r in ims]
    rows += [(f'celeba/{r}', f'celeba:{r.split("/")[0]}')
             for ims in identity_images(os.path.join(shared, 'data', 'celeba_id299')).values() for r in ims]
    return rows


@pytest.mark.shared
def test_validation_identities_are_disjoint_from_training_and_lfw(shared: str) -> None:
    from fhgan_plugin.data.pairs import parse_lfw_pairs, unique_images
    from scripts.prepare_data import split_training
    val = read_identity_list()
    cfg = SplitConfig()
    assert len(val) == len(set(val)) == cfg.n
    celeba = identity_images(os.path.join(shared, 'data', 'celeba_id299'))
    assert all(len(celeba[p]) >= cfg.min_images for p in val)
    train, held = split_training(_training_rows(shared), set(val))
    train_people = {name for _, name in train}
    train_files = {rel for rel, _ in train}
    assert not train_people & {f'celeba:{p}' for p in val}
    assert set(held) == set(val) and not train_files & {r for rels in held.values() for r in rels}
    assert sum(map(len, held.values())) == sum(len(celeba[p]) for p in val)  # every photo of them held out
    # no LFW photo (pairs or training) is a validation photo, and no validation person is an LFW name
    lfw_people = set(identity_images(os.path.join(shared, 'data', 'lfw', 'images_deepfunneled')))
    pairs_people = {r.split('/')[0] for r in unique_images(parse_lfw_pairs(
        os.path.join(shared, 'data', 'lfw', 'pairs.txt')))}
    assert pairs_people <= lfw_people and not set(val) & lfw_people
    # the face screen that chose them: every validation identity is farther than the threshold from every LFW
    # person (both datasets are web celebrities: a person in both would leak the test set or the training set)
    report = json.load(open(REPORT))
    assert report['chosen'] == val and report['config']['threshold'] == cfg.threshold
    assert report['reference_people'] == len(lfw_people)
    assert all(report['screened'][p] < cfg.threshold for p in val)
    assert all(report['screened'][p] >= cfg.threshold for p in report['skipped'])


@pytest.mark.shared
def test_the_face_screen_finds_a_person_photographed_twice(shared: str) -> None:
    """The screen that checks validation identities against LFW: one LFW person's other photos score above the
    threshold against a reference set holding that person, a validation identity scores below it."""
    from fhgan_plugin.data.validation_split import FaceScreen
    lfw = os.path.join(shared, 'data', 'lfw', 'images_deepfunneled')
    people = identity_images(lfw, ['George_W_Bush', 'Colin_Powell', 'Tony_Blair', 'Serena_Williams', 'Jiang_Zemin'])
    screen = FaceScreen(os.path.join(shared, 'models', 'mobilefacenet_casia_068.pth'))
    screen.set_reference([os.path.join(lfw, ims[0]) for ims in people.values()])
    threshold = SplitConfig().threshold
    for person in ('George_W_Bush', 'Serena_Williams'):
        assert screen([os.path.join(lfw, r) for r in people[person][1:6]]) >= threshold, person
    celeba = os.path.join(shared, 'data', 'celeba_id299')
    first = read_identity_list()[0]
    assert screen([os.path.join(celeba, r) for r in identity_images(celeba, [first])[first][:5]]) < threshold


def test_choose_takes_screened_candidates_in_a_fixed_order() -> None:
    images = {f'p{i}': [f'p{i}/{k}.jpg' for k in range(3 + i % 3)] for i in range(20)}
    far = {p: (0.9 if p in ('p3', 'p7') else 0.1) for p in images}
    cfg = SplitConfig(n=5, min_images=4, threshold=0.5)
    chosen, seen = choose_validation_identities(images, far.get, cfg)
    assert len(chosen) == 5 and not {'p3', 'p7'} & set(chosen)
    assert all(len(images[p]) >= 4 for p in seen)
    assert chosen == choose_validation_identities(images, far.get, cfg)[0]  # deterministic
    assert chosen != choose_validation_identities(images, far.get, SplitConfig(5, 4, 1, 0.5))[0]  # the seed matters
    with pytest.raises(ValueError, match='only'):
        choose_validation_identities(images, lambda p: 1.0, cfg)


def test_validation_pairs_are_balanced_identity_disjoint_folds(tmp_path) -> None:  # noqa: ANN001
    images = {f'id{i}': [f'id{i}/{k}.png' for k in range(4 + i)] for i in range(10)}
    pairs = make_validation_pairs(images, n_folds=5, same_per_identity=3, seed=0)
    person = {r: p for p, rels in images.items() for r in rels}
    for fold in range(5):
        fp = [q for q in pairs if q.fold == fold]
        same, diff = [q for q in fp if q.issame], [q for q in fp if not q.issame]
        assert len(same) == len(diff) == 6  # 2 identities x 3 same pairs, as many different pairs
        assert all(person[q.path1] == person[q.path2] and q.path1 != q.path2 for q in same)
        assert all(person[q.path1] != person[q.path2] for q in diff)
        people = {person[r] for q in fp for r in (q.path1, q.path2)}
        others = {person[r] for q in pairs if q.fold != fold for r in (q.path1, q.path2)}
        assert len(people) == 2 and not people & others  # a fold's threshold never saw its people
    assert len({(q.path1, q.path2) for q in pairs}) == len(pairs)
    write_pairs_list(str(tmp_path / 'val_pairs.txt'), pairs)
    assert read_pairs_file(str(tmp_path / 'val_pairs.txt'), 'list') == pairs


@pytest.mark.parametrize('text,match', [('# header\na.png b.png 1 0\na.png c.png yes 0\n', r'p\.txt:3: expected'),
                                        ('# nothing\n', 'no pairs')])
def test_malformed_pairs_list_names_the_line(tmp_path, text: str, match: str) -> None:  # noqa: ANN001
    (tmp_path / 'p.txt').write_text(text)
    with pytest.raises(ValueError, match=match):
        parse_pairs_list(str(tmp_path / 'p.txt'))


def test_committed_identity_list_is_what_the_split_file_says() -> None:
    assert os.path.isfile(VAL_IDENTITIES_FILE) and read_identity_list() == json.load(open(REPORT))['chosen']
