"""MaskDINOProposalDetector: the proposal network as a standalone class-agnostic mmdet detector."""
import pytest
import torch
from mmdet.registry import MODELS


@pytest.fixture
def detector(tiny_cfg):
    model = MODELS.build(tiny_cfg.proposal_network)
    model.init_weights()
    return model


def test_loss_has_every_term_on_every_layer(detector, make_batch):
    inputs, samples = make_batch(num_gts=(3, 1))
    losses = detector.loss(inputs, samples)
    for prefix in ('', 'd0.', 'enc_', 'dn_', 'd0.dn_'):
        for term in ('loss_cls', 'loss_bbox', 'loss_iou', 'loss_mask', 'loss_dice'):
            key = prefix + term
            assert key in losses, key
            assert torch.isfinite(losses[key]) and losses[key] >= 0, key
    assert len(losses) == 25


def test_gradients_reach_backbone_and_proposal_network(detector, make_batch):
    inputs, samples = make_batch(num_gts=(2, 1))
    sum(detector.loss(inputs, samples).values()).backward()
    for name in ('backbone.conv1.conv.weight', 'neck.convs.0.conv.weight',
                 'encoder.layers.0.self_attn.value_proj.weight',
                 'decoder.layers.1.cross_attn.value_proj.weight',
                 'pixel_embedding.mask_proj.weight', 'bbox_head.mask_embed.layers.0.weight',
                 'bbox_head.cls_branches.0.weight', 'dn_query_generator.label_embedding.weight'):
        grad = dict(detector.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_zero_gt_batch_and_non_zero_labels(detector, make_batch):
    inputs, samples = make_batch(num_gts=(0, 0))
    losses = detector.loss(inputs, samples)
    assert all(torch.isfinite(v) for v in losses.values())
    # dataset labels beyond num_classes=1 are treated class-agnostically
    inputs, samples = make_batch(num_gts=(2, 3), label_offset=7)
    assert torch.isfinite(sum(detector.loss(inputs, samples).values()))


def test_predict_writes_class_agnostic_instances_in_original_coordinates(detector, make_batch):
    inputs, samples = make_batch(shapes=((64, 96), (48, 64)), num_gts=(1, 1), scale=0.5)
    detector.eval()
    with torch.no_grad():
        results = detector.predict(inputs, samples)
    for res, sample in zip(results, samples):
        pred = res.pred_instances
        ori_h, ori_w = sample.ori_shape
        assert pred.bboxes.shape == (20, 4) and pred.scores.shape == (20, )
        assert pred.masks.shape == (20, ori_h, ori_w) and pred.masks.dtype == torch.bool
        assert (pred.labels == 0).all()
        assert (pred.bboxes[:, 0::2] <= ori_w + 1e-3).all()
        assert (pred.bboxes[:, 1::2] <= ori_h + 1e-3).all()
        assert (pred.scores[:-1] >= pred.scores[1:]).all()


def test_wrong_number_of_neck_levels_is_reported(tiny_cfg, make_batch):
    cfg = tiny_cfg.proposal_network
    cfg.neck.num_outs = 4
    model = MODELS.build(cfg)
    inputs, samples = make_batch()
    with pytest.raises(ValueError, match='num_outs'):
        model.loss(inputs, samples)


def test_too_small_input_names_the_minimum_size(detector):
    """8x8 px (padded to 16): 7 encoder tokens for 20 queries -> a clear error, not topk's."""
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=dict(img_shape=(8, 8), batch_input_shape=(16, 16),
                                         pad_shape=(16, 16), ori_shape=(8, 8),
                                         scale_factor=(1.0, 1.0)))
    detector.eval()
    with pytest.raises(ValueError, match=r'16x16 px input .* at least 25x25 px'):
        with torch.no_grad():
            detector.predict(torch.zeros(1, 3, 16, 16), [sample])




def test_level_embed_is_defined_before_init_weights(tiny_cfg):
    """mmdet's DINO leaves level_embed as uninitialised memory until init_weights (NaN there made
    a detection-task test flaky); ours is zero until init_weights fills it."""
    model = MODELS.build(tiny_cfg.proposal_network)
    assert torch.count_nonzero(model.level_embed) == 0
    model.init_weights()
    assert torch.isfinite(model.level_embed).all() and model.level_embed.std() > 0
