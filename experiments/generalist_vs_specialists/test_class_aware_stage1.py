"""The 20-class detection specialist as a class-aware stage 1 of the embedded default (the embedded
detection study, section 10): its checkpoint loads into the default's class-agnostic proposal
network with the class-specific parameters skipped (``proposal_checkpoint_skip``)."""
import copy
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.testing.detection import TINY_MASKDINO_CFG as TINY_CFG
from uniperceiver_v2.testing.detection import assert_same_state_shapes
from uniperceiver_v2.testing.entry_points import EMBEDDED

import experiments.generalist_vs_specialists.specialists  # noqa: F401,E402  (registers the head)


SPECIALIST = (Path(__file__).resolve().parent / 'configs' / 'specialists' /
              'maskdino_mobilenetv2_20cls_synthetic.py')


CLASS_SPECIFIC = ('bbox_head.cls_branches', 'dn_query_generator.label_embedding')


def test_class_aware_checkpoint_loads_all_but_its_classes(tmp_path):
    """Stage 1 of the embedded default is a class-aware detector (20 class logits): the encoder's
    class-agnostic proposal network takes everything else from it and keeps its own objectness
    logit and denoising label embedding."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY_CFG).image_encoder
    aware_cfg = copy.deepcopy(cfg.proposal_network)
    aware_cfg.bbox_head.update(type='ClassAwareMaskDINOHead', num_classes=20)
    torch.manual_seed(1)
    aware = MODELS.build(aware_cfg)
    aware.init_weights()
    path = str(tmp_path / 'stage1_20cls.pth')
    torch.save(dict(state_dict=aware.state_dict(), meta=dict()), path)
    with pytest.raises(RuntimeError, match='proposal_checkpoint_skip'):  # shapes differ
        MODELS.build(dict(copy.deepcopy(cfg), proposal_checkpoint=path)).init_weights()
    torch.manual_seed(2)
    fresh = MODELS.build(copy.deepcopy(cfg))
    fresh.init_weights()
    torch.manual_seed(2)
    encoder = MODELS.build(dict(copy.deepcopy(cfg), proposal_checkpoint=path,
                                proposal_checkpoint_skip=CLASS_SPECIFIC))
    encoder.init_weights()
    loaded, initial = encoder.proposal_network.state_dict(), fresh.proposal_network.state_dict()
    skipped = [k for k in loaded if k.startswith(CLASS_SPECIFIC)]
    num_branches = len(encoder.proposal_network.bbox_head.cls_branches)
    assert len(skipped) == 2 * num_branches + 1  # weights and biases, dn label embedding
    assert loaded['bbox_head.cls_branches.0.weight'].shape[0] == 1  # objectness, not 20 classes
    for key, value in loaded.items():
        if key in skipped:
            assert torch.equal(value, initial[key]), key  # its own initialisation
        else:
            assert torch.equal(value, aware.state_dict()[key]), key


def test_class_aware_stage1_fits_the_default_with_its_classes_skipped():
    """The detection specialist as a class-aware stage 1 (experiments/embedded_detection/README.md section 10)
    loads into the default's proposal network with its class logits and denoising label
    embedding skipped (``model.image_encoder.proposal_checkpoint_skip``)."""
    init_default_scope('mmdet')
    first = Config.fromfile(
        str(SPECIALIST))
    second = Config.fromfile(str(EMBEDDED))
    assert_same_state_shapes(first.model, second.model.image_encoder.proposal_network,
                        ('bbox_head.cls_branches', 'dn_query_generator.label_embedding'))
