"""DetectionDecompositionMetric: usual, class-agnostic and oracle-class AP on hand-made
predictions whose three values are known, the one-per-box reduction and the oracle relabelling."""
import json

import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmengine.registry import init_default_scope

import uniperceiver_v2  # noqa: F401  (registers the metric)
from uniperceiver_v2.evaluation.detection_decomposition_metric import (one_per_box,
                                                                        oracle_labels)

CLASSES = ('cat', 'dog')


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    """Build by mmdet's registry whatever scope an earlier test left."""
    init_default_scope('mmdet')


def rect(box, h=100, w=100):
    mask = torch.zeros(h, w, dtype=torch.bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def coco_file(tmp_path):
    """Image 1: cat A [0,0,10,10], dog B [20,20,40,40]; image 2: cat D [5,5,25,25]."""
    gts = [(1, 1, [0, 0, 10, 10]), (1, 2, [20, 20, 40, 40]), (2, 1, [5, 5, 25, 25])]
    anns = []
    for i, (img, cat, (x0, y0, x1, y1)) in enumerate(gts):
        anns.append(dict(id=i + 1, image_id=img, category_id=cat, iscrowd=0,
                         bbox=[x0, y0, x1 - x0, y1 - y0], area=(x1 - x0) * (y1 - y0),
                         segmentation=[[x0, y0, x1, y0, x1, y1, x0, y1]]))
    data = dict(images=[dict(id=i, width=100, height=100, file_name=f'{i}.png') for i in (1, 2)],
                categories=[dict(id=1, name='cat'), dict(id=2, name='dog')], annotations=anns)
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(data))
    return str(path)


def sample(img_id, preds):
    """A data sample dict with ``(box, label, score)`` predictions, masks = the boxes."""
    boxes = torch.tensor([p[0] for p in preds], dtype=torch.float32)
    return dict(img_id=img_id, ori_shape=(100, 100), pred_instances=dict(
        bboxes=boxes, labels=torch.tensor([p[1] for p in preds]),
        scores=torch.tensor([p[2] for p in preds]),
        masks=torch.stack([rect(p[0]) for p in preds])))


A, B, D, E = [0, 0, 10, 10], [20, 20, 40, 40], [5, 5, 25, 25], [60, 60, 70, 70]


def test_three_known_numbers(tmp_path):
    """Image 1: A as dog 0.9 and as cat 0.6 (one proposal, two pairs), B as dog 0.8, E (no
    object) as cat 0.95; image 2: D as dog 0.7.

    usual:   cat = {E FP, A TP} of 2 gts -> 0.5 * 51/101;  dog = {A FP, B TP, D FP} -> 0.5
    agnostic: {E FP, A, B, D TP} of 3 -> precision 3/4 at every recall -> 0.75
    oracle:  A -> cat, B -> dog, D -> cat, E keeps cat: cat = {E FP, A TP, D TP} -> 2/3, dog 1
    """
    metric = METRICS.build(dict(type='DetectionDecompositionMetric', ann_file=coco_file(tmp_path),
                                metric=['bbox', 'segm']))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [sample(1, [(A, 1, 0.9), (A, 0, 0.6), (B, 1, 0.8), (E, 0, 0.95)]),
                        sample(2, [(D, 1, 0.7)])])
    res = metric.evaluate(2)
    for m in ('bbox', 'segm'):
        assert res[f'coco/{m}_mAP'] == pytest.approx((0.5 * 51 / 101 + 0.5) / 2, abs=1e-3)
        assert res[f'coco/{m}_mAP_agnostic'] == pytest.approx(0.75, abs=1e-3)
        assert res[f'coco/{m}_mAP_oracle_cls'] == pytest.approx((2 / 3 + 1) / 2, abs=1e-3)
        assert res[f'coco/{m}_mAP_50_agnostic'] == pytest.approx(0.75, abs=1e-3)
    # the metric's own state is back: a second evaluation gives the same numbers
    metric.process({}, [sample(1, [(A, 1, 0.9), (A, 0, 0.6), (B, 1, 0.8), (E, 0, 0.95)]),
                        sample(2, [(D, 1, 0.7)])])
    assert metric.evaluate(2) == res


def test_perfect_classes_close_the_gap(tmp_path):
    """With the right class for every box the usual AP equals the oracle-class AP."""
    metric = METRICS.build(dict(type='DetectionDecompositionMetric', ann_file=coco_file(tmp_path),
                                metric='bbox', decomposition_items=['mAP']))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [sample(1, [(A, 0, 0.9), (B, 1, 0.8)]), sample(2, [(D, 0, 0.7)])])
    res = metric.evaluate(2)
    assert res['coco/bbox_mAP'] == res['coco/bbox_mAP_oracle_cls'] == \
        res['coco/bbox_mAP_agnostic'] == pytest.approx(1.0)
    assert 'coco/bbox_mAP_50_agnostic' not in res and 'coco/segm_mAP_agnostic' not in res


def test_one_per_box_keeps_each_boxs_best_entry():
    pred = dict(img_id=1, bboxes=np.array([A, B, A, B, E], dtype=np.float32),
                scores=np.array([0.2, 0.5, 0.9, 0.1, 0.3]), labels=np.array([0, 1, 2, 3, 4]),
                masks=['a0', 'b1', 'a2', 'b3', 'e4'])
    out = one_per_box(pred)
    assert out['labels'].tolist() == [2, 1, 4]
    assert out['scores'].tolist() == [0.9, 0.5, 0.3] and out['masks'] == ['a2', 'b1', 'e4']
    empty = dict(img_id=1, bboxes=np.zeros((0, 4)), scores=np.zeros(0), labels=np.zeros(0))
    assert one_per_box(empty)['scores'].shape == (0, )


def test_oracle_takes_the_most_overlapping_ground_truth():
    gt_boxes = np.array([[0, 0, 10, 10], [5, 0, 25, 10], [50, 50, 60, 60]], dtype=np.float64)
    gt_labels = np.array([3, 7, -1])                   # the last: a category not evaluated
    boxes = np.array([[6, 0, 24, 10], [0, 0, 9, 10], [50, 50, 60, 60], [80, 80, 90, 90]])
    assert oracle_labels(boxes, np.array([1, 1, 1, 1]), gt_boxes, gt_labels).tolist() == \
        [7, 3, 1, 1]


def test_unknown_item_is_an_error():
    with pytest.raises(KeyError, match='decomposition_items'):
        METRICS.build(dict(type='DetectionDecompositionMetric', decomposition_items=['AP']))
