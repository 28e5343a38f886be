"""Referring expressions (RefCOCO format) and semantic label maps (mmseg layout) of the synthetic
scenes: the earlier files stay byte-identical, the new ones are deterministic, every expression
picks out exactly its object, and the stock readers / metrics accept them (mmpretrain RefCOCO +
VisualGroundingMetric, mmdet RefCocoDataset, mmseg BaseSegDataset + IoUMetric)."""
import hashlib
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmpretrain.datasets import RefCOCO
from mmpretrain.evaluation import VisualGroundingMetric
from mmseg.datasets import BaseSegDataset
from mmseg.evaluation import IoUMetric
from PIL import Image

from uniperceiver_v2.datasets.synthetic_scenes import cli as generate_synthetic
from uniperceiver_v2.datasets.synthetic_scenes import (CLASSES, REFS_FILE, SceneObject, generate_grounding_and_semseg,
                              referring_expressions, render_scene)

SIZES = dict(num_train=12, num_val=6, num_test=6, image_size=64, seed=0)
#: sha256 over (relative path, bytes) of every file the generator wrote before grounding /
#: semantic maps were added (12/6/6 images, 64 px, seed 0): 38 files.
EARLIER_FILES_SHA256 = '9b662fa79f1991be0906a2d7afdf7f406505704c142802c26d0562a77fdc2f39'
NEW_FOLDERS = ('refcoco', 'semseg')


def _digest(root: str, keep) -> tuple:
    h, count = hashlib.sha256(), 0
    for folder, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(names):
            path = osp.join(folder, name)
            rel = osp.relpath(path, root)
            if keep(rel):
                h.update(rel.encode())
                with open(path, 'rb') as f:
                    h.update(f.read())
                count += 1
    return h.hexdigest(), count


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    """The whole tiny dataset written by the command line tool."""
    root = str(tmp_path_factory.mktemp('synthetic_gs'))
    assert generate_synthetic.main([
        '--out-dir', root, '--num-train', '12', '--num-val', '6', '--num-test', '6',
        '--image-size', '64', '--seed', '0', '--no-progress']) == 0
    return root


def test_earlier_files_byte_identical_and_new_files_deterministic(data_root, tmp_path):
    earlier = _digest(data_root, lambda rel: rel.split(os.sep)[0] not in NEW_FOLDERS)
    assert earlier == (EARLIER_FILES_SHA256, 38)
    again = str(tmp_path / 'again')
    generate_grounding_and_semseg(again, **SIZES)  # only the new files, into an empty folder
    new = lambda rel: rel.split(os.sep)[0] in NEW_FOLDERS  # noqa: E731
    assert _digest(again, new) == _digest(data_root, new)
    assert _digest(again, new)[1] == 2 + 12 + 6 + 6


def test_grounding_semseg_only_flag_adds_the_same_files(data_root, tmp_path):
    """``--grounding-semseg-only`` (render again, for a dataset written before these files
    existed) writes what the one-pass command writes, and nothing else."""
    again = str(tmp_path / 'only')
    assert generate_synthetic.main([
        '--out-dir', again, '--num-train', '12', '--num-val', '6', '--num-test', '6',
        '--image-size', '64', '--seed', '0', '--no-progress', '--grounding-semseg-only']) == 0
    new = lambda rel: rel.split(os.sep)[0] in NEW_FOLDERS  # noqa: E731
    assert _digest(again, new) == _digest(data_root, new)
    assert sorted(os.listdir(again)) == sorted(NEW_FOLDERS)


def _object(label, x0, y0, size=64, w=8, dominant=False):
    mask = np.zeros((size, size), bool)
    mask[y0:y0 + w, x0:x0 + w] = True
    return SceneObject(label=label, mask=mask, dominant=dominant)


def test_expressions_pick_out_exactly_their_object():
    red_circle, blue_star = CLASSES.index('red circle'), CLASSES.index('blue star')
    objects = [_object(red_circle, 40, 30, w=20, dominant=True), _object(red_circle, 4, 30),
               _object(blue_star, 20, 30)]
    rng = np.random.default_rng(0)
    exprs = referring_expressions(objects, 64, rng, per_object=20)
    # two red circles: 'the red circle' names neither, size / extremes / relations do
    assert 'the red circle' not in exprs[0] + exprs[1]
    assert 'the large red circle' in exprs[0] and 'the small red circle' in exprs[1]
    assert 'the rightmost red circle' in exprs[0] and 'the leftmost red circle' in exprs[1]
    assert 'the red circle to the right of the blue star' in exprs[0]
    assert 'the red circle to the left of the blue star' in exprs[1]
    assert {'the blue star', 'the blue shape', 'the star'} <= set(exprs[2])
    # on real scenes, every written expression holds for its object alone: no object gets an
    # expression that another object of the same scene also received
    for index in range(6):
        scene = render_scene(0, 'val', index, 64)
        per_object = referring_expressions(scene.objects, 64, np.random.default_rng(index))
        flat = [e for exprs in per_object for e in exprs]
        assert len(flat) == len(set(flat)) and all(1 <= len(e) <= 3 for e in per_object)


def test_refcoco_readers_and_grounding_metric(data_root):
    with open(osp.join(data_root, 'refcoco', REFS_FILE), 'rb') as f:
        refs = pickle.load(f)
    assert {r['split'] for r in refs} == {'train', 'val', 'test'}
    ds = RefCOCO(data_root=data_root, data_prefix='', ann_file='refcoco/instances.json',
                 split_file=f'refcoco/{REFS_FILE}', split='val', pipeline=[])
    val_refs = [r for r in refs if r['split'] == 'val']
    assert len(ds) == sum(len(r['sentences']) for r in val_refs)
    info = ds[0]
    scene = render_scene(0, 'val', 0, 64)
    k = val_refs[0]['ann_id'] % 10
    x, y, w, h = scene.objects[k].bbox
    assert np.allclose(info['gt_bboxes'], [[x, y, x + w, y + h]])
    assert info['text'] == val_refs[0]['sentences'][0]['sent'] and osp.isfile(info['img_path'])
    from mmdet.datasets import RefCocoDataset
    det = RefCocoDataset(data_root=data_root, ann_file='refcoco/instances.json',
                         split_file=f'refcoco/{REFS_FILE}', data_prefix=dict(img_path=''),
                         split='val', text_mode='original', pipeline=[])
    first = det[0]
    assert len(first['text']) == len(first['instances']) and osp.isfile(first['img_path'])
    metric = VisualGroundingMetric()  # the ground truth scores precision@1 = 1
    metric.process(None, [dict(pred_bboxes=torch.tensor(ds[i]['gt_bboxes']),
                               gt_bboxes=ds[i]['gt_bboxes']) for i in range(len(ds))])
    assert float(metric.compute_metrics(metric.results)['acc']) == 1.0


def test_semantic_maps_read_by_mmseg_and_scored_by_iou_metric(data_root):
    ds = BaseSegDataset(data_root=data_root, data_prefix=dict(img_path='val',
                                                               seg_map_path='semseg/val'),
                        img_suffix='.png', seg_map_suffix='.png',
                        metainfo=dict(classes=CLASSES), test_mode=True,
                        pipeline=[dict(type='mmseg.LoadImageFromFile'),
                                  dict(type='mmseg.LoadAnnotations'),
                                  dict(type='mmseg.PackSegInputs')])
    assert len(ds) == 6
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=CLASSES)
    for i in range(6):
        sample = ds[i]['data_samples']
        labels = sample.gt_sem_seg.data[0].numpy()
        scene = render_scene(0, 'val', i, 64)
        expected = np.full((64, 64), 255)
        for obj in scene.objects:
            expected[obj.mask] = obj.label
        assert np.array_equal(labels, expected)
        with open(sample.img_path, 'rb') as f:
            assert np.array_equal(np.asarray(Image.open(f).convert('RGB')), scene.image)
        sample.pred_sem_seg = PixelData(data=sample.gt_sem_seg.data.clone())
        metric.process({}, [sample.to_dict()])
    result = metric.compute_metrics(metric.results)
    assert result['aAcc'] == 100.0 and result['mIoU'] == 100.0
