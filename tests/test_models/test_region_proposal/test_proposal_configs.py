"""The proposal network configs parse, are class-agnostic and have consistent channels."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

ROOT = osp.join(osp.dirname(__file__), '..', '..', '..')
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'proposal_network', '*.py')))


def _backbone_channels(backbone: dict):
    if backbone['type'] == 'SwinTransformer':
        return [backbone['embed_dims'] * 2**i for i in backbone['out_indices']]
    if backbone['type'] == 'ResNet':
        return [256 * 2**i for i in backbone['out_indices']]
    cfg = dict(backbone, weights_package=None) if 'weights_package' in backbone else backbone
    with torch.no_grad():
        return [f.shape[1] for f in MODELS.build(cfg)(torch.zeros(1, 3, 64, 64))]


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    assert model.type == 'MaskDINOProposalDetector' and model.bbox_head.num_classes == 1
    assert cfg.custom_imports.imports == ['uniperceiver_v2']
    assert model.neck.num_outs == model.num_feature_levels + 1
    assert list(model.neck.in_channels) == _backbone_channels(model.backbone)
    for loader in ('train_dataloader', 'val_dataloader'):
        assert cfg[loader].dataset.type == 'ClassAgnosticCocoDataset'
    assert cfg.val_evaluator.type == 'ClassAgnosticCocoMetric'
    assert set(cfg.val_evaluator.metric) == {'bbox', 'segm'}


def test_mask_dino_defaults_in_r50_config():
    model = Config.fromfile(osp.join(ROOT, 'configs/proposal_network/'
                                           'maskdino-proposal_r50_8xb2-50e_coco.py')).model
    assert model.num_queries == 300 and model.encoder.num_layers == 6
    assert model.decoder.num_layers == 9
    assert model.dn_cfg.group_cfg.num_dn_queries == 100
    head = model.bbox_head
    assert (head.loss_cls.loss_weight, head.loss_bbox.loss_weight, head.loss_iou.loss_weight,
            head.loss_mask.loss_weight, head.loss_dice.loss_weight) == (4.0, 5.0, 2.0, 5.0, 5.0)
