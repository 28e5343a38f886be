"""The COCO configs classify proposals with the softmax likelihood and a background logit.

The choice (over sigmoid focal "no object") and its measurement:
experiments/embedded_detection/README.md, section 13.
"""
import os.path as osp

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import uniperceiver_v2  # noqa: F401  (registers DetectionTask)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COCO_CONFIGS = ('upv2_r50_8xgpu-150k_coco-in1k.py',
                'upv2_r50_8xgpu-150k_coco-in1k-refcoco-ade20k.py',
                'upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py',
                'upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py')


@pytest.mark.parametrize('name', COCO_CONFIGS)
def test_coco_detection_uses_softmax_with_background(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    det_cfg = cfg.model.tasks.coco_det
    assert det_cfg.no_object == 'softmax'
    init_default_scope('mmdet')
    task = MODELS.build(det_cfg.to_dict())
    assert task.no_object == 'softmax' and hasattr(task, 'background_logit')
    assert not hasattr(task, 'logit_bias')
    assert type(task.loss_cls).__name__ == 'CrossEntropyLoss' and not task.loss_cls.use_sigmoid
    assert len(task.class_names) == 80
