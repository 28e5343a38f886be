"""Overfitting a few synthetic images: class-agnostic proposal AP (mmdet CocoMetric) must rise.

Uses the run's tiny synthetic COCO data (``synthetic_data`` fixture), the registered
``ClassAgnosticCocoDataset`` / ``ClassAgnosticCocoMetric`` and the tiny proposal network.
"""
import os.path as osp

import pytest
import torch
from mmdet.registry import DATASETS, METRICS, MODELS
from mmengine.dataset import pseudo_collate

NUM_STEPS = 120


def _evaluate(model, data, metric) -> dict:
    model.eval()
    with torch.no_grad():
        samples = model.test_step(data)
    metric.process({}, [s.to_dict() for s in samples])
    results = metric.evaluate(len(samples))
    model.train()
    return results


@pytest.mark.timeout(400)
@pytest.mark.integration
def test_overfit_raises_class_agnostic_proposal_ap(tiny_cfg, synthetic_data):
    torch.manual_seed(0)
    split = 'val'
    ann, img_dir = synthetic_data[split]['instances'], synthetic_data[split]['img_dir']
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                              'scale_factor'))
    ]
    dataset = DATASETS.build(dict(type='ClassAgnosticCocoDataset', ann_file=ann,
                                  data_prefix=dict(img=img_dir + osp.sep), pipeline=pipeline,
                                  test_mode=False, filter_cfg=None))
    assert dataset.metainfo['classes'] == ('object', )
    data = pseudo_collate([dataset[i] for i in range(len(dataset))])
    assert all((s.gt_instances.labels == 0).all() for s in data['data_samples'])

    cfg = tiny_cfg.proposal_network
    cfg.data_preprocessor = dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                 std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                                 pad_size_divisor=32)
    cfg.bbox_head.loss_cls.loss_weight = 2.0
    model = MODELS.build(cfg)
    model.init_weights()
    metric_cfg = dict(type='ClassAgnosticCocoMetric', ann_file=ann, metric=['bbox', 'segm'])

    def new_metric():
        metric = METRICS.build(metric_cfg)
        metric.dataset_meta = dataset.metainfo
        return metric

    before = _evaluate(model, data, new_metric())
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(NUM_STEPS):
        batch = model.data_preprocessor(data, training=True)
        losses = model.loss(batch['inputs'], batch['data_samples'])
        loss = sum(losses.values())
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
    after = _evaluate(model, data, new_metric())
    print(f'class-agnostic AP before {before} after {after}')
    assert after['coco/bbox_mAP_50'] >= before['coco/bbox_mAP_50'] + 0.3
    assert after['coco/bbox_mAP'] > max(0.15, 3 * before['coco/bbox_mAP'])
    assert after['coco/segm_mAP'] > max(0.15, 3 * before['coco/segm_mAP'])
