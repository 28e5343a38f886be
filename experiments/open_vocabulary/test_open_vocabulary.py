"""open_vocabulary_split.py (what held-out categories leave in each file) and the headline
figures of open_vocabulary_eval.py."""
import json
import os.path as osp
import pickle

import pytest

import open_vocabulary_split
from open_vocabulary_eval import summarise
from uniperceiver_v2.datasets.synthetic_scenes import cli as generate_synthetic


@pytest.fixture(scope='module')
def split(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ov'))
    assert generate_synthetic.main(['--out-dir', root, '--num-train', '16', '--num-val', '6',
                                    '--num-test', '1', '--image-size', '64', '--no-progress']) == 0
    return root, open_vocabulary_split.split_open_vocabulary(root)


def test_held_out_categories_leave_no_training_label(split):
    root, result = split
    paths, seen, unseen = result['paths'], result['seen'], result['unseen']
    assert len(seen) == 15 and tuple(unseen) == tuple(sorted(
        open_vocabulary_split.UNSEEN, key=lambda n: (seen + unseen).index(n)))
    with open(paths['instances_train_seen.json']) as f:
        train = json.load(f)
    names = {c['id']: c['name'] for c in train['categories']}
    assert set(names.values()) == set(seen)
    assert all(a['category_id'] in names for a in train['annotations'])
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        assert len(json.load(f)['images']) == len(train['images'])  # images kept
    with open(paths['instances_val_unseen.json']) as f:
        val = json.load(f)
    assert {c['name'] for c in val['categories']} == set(unseen)
    with open(paths['train_seen.txt']) as f:
        labels = [int(line.split()[1]) for line in f]
    assert labels and max(labels) < 15
    with open(paths['refs(synthetic_ov).p'], 'rb') as f:
        refs = pickle.load(f)
    for ref in refs:
        texts = [s['raw'] for s in ref['sentences']]
        if ref['split'] in ('train', 'val_seen'):
            assert not any(u in t for u in unseen for t in texts)
    assert {r['split'] for r in refs} <= {'train', 'val_seen', 'val_unseen'}


def test_bad_held_out_name(split):
    root, _ = split
    with pytest.raises(ValueError, match='purple moon'):
        open_vocabulary_split.split_open_vocabulary(root, ['purple moon'])


def test_summary_means_the_per_category_aps():
    results = {'det_all20': {'coco/bbox_mAP': 0.3, 'coco/a_precision': 0.2,
                             'coco/b_precision': 0.4, 'coco/c_precision': 0.9,
                             'coco/d_precision': float('nan')},
               'cls_unseen5_only': {'accuracy/top1': 57.0},
               'ground_val_unseen': {'visual-grounding/acc': 0.25}}
    out = summarise(results, seen=['a', 'b'], unseen=['c', 'd'])
    assert out['det_box_AP_all20'] == pytest.approx(30.0)
    assert out['det_box_AP_seen15_of20'] == pytest.approx(30.0)
    assert out['det_box_AP_unseen5_of20'] == pytest.approx(90.0)  # nan (no instance) left out
    assert out['cls_unseen5_only_top1'] == 57.0
    assert out['ground_val_unseen_precision@1'] == pytest.approx(25.0)
