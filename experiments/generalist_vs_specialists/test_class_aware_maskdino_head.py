"""ClassAwareMaskDINOHead (specialists/, the detection specialist's head): its class loss
against a direct focal loss, the parent's geometry losses unchanged, per-query class predictions,
and the class-aware detector end to end.  Fixtures: conftest.py (the tiny proposal network)."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.structures import InstanceData
from torchvision.ops import sigmoid_focal_loss

import experiments.generalist_vs_specialists.specialists  # noqa: F401  (registers the head)

NUM_CLASSES = 5


def class_aware(cfg: dict) -> dict:
    """The tiny proposal network config with the class-aware head."""
    cfg = cfg.copy()
    cfg['bbox_head'] = dict(cfg['bbox_head'], type='ClassAwareMaskDINOHead',
                            num_classes=NUM_CLASSES)
    return cfg


def build_heads(tiny_cfg, **head_kw):
    """The class-aware head (with ``head_kw``) and a class-agnostic MaskDINOHead with the same
    settings."""
    cfg = tiny_cfg.proposal_network
    heads = []
    for bbox_head in (dict(class_aware(cfg)['bbox_head'], **head_kw), cfg.bbox_head):
        head = MODELS.build(dict(bbox_head, share_pred_layer=False, num_pred_layer=3,
                                 as_two_stage=True, train_cfg=cfg.train_cfg,
                                 test_cfg=cfg.test_cfg))
        head.init_weights()
        heads.append(head)
    return heads


def test_class_logits_and_losses(tiny_cfg):
    head, agnostic = build_heads(tiny_cfg)
    assert head.num_classes == head.cls_out_channels == NUM_CLASSES
    assert all(b.out_features == NUM_CLASSES for b in head.cls_branches)
    torch.manual_seed(0)
    num_q = 5
    metas = [dict(img_shape=(40, 60), batch_input_shape=(40, 60))] * 2
    cls = torch.randn(2, num_q, NUM_CLASSES)
    boxes = torch.rand(2, num_q, 4) * 0.5 + 0.2
    mask_embed, mask_features = torch.randn(2, num_q, 8), torch.randn(2, 8, 10, 15)
    gts = [InstanceData(bboxes=torch.tensor([[5., 5., 30., 20.], [10., 12., 50., 38.]]),
                        labels=torch.tensor([3, 1])),
           InstanceData(bboxes=torch.tensor([[0., 0., 20., 20.]]), labels=torch.tensor([4]))]
    gt_masks = [(torch.rand(2, 40, 60) > 0.5).float(), (torch.rand(1, 40, 60) > 0.5).float()]
    assigned = torch.tensor([[-1, 1, -1, 0, -1], [0, -1, -1, -1, -1]])
    torch.manual_seed(1)
    losses = head._set_losses(cls, boxes, mask_embed, mask_features, assigned, gts, gt_masks,
                              metas)
    torch.manual_seed(1)
    parent = agnostic._set_losses(cls[..., :1], boxes, mask_embed, mask_features, assigned, gts,
                                  gt_masks, metas)

    target = torch.zeros_like(cls)                # one-hot of the matched gt's class
    target[0, 1, 1] = target[0, 3, 3] = target[1, 0, 4] = 1
    expected = head.loss_cls.loss_weight * sigmoid_focal_loss(
        cls, target, alpha=0.25, gamma=2.0, reduction='sum') / 3
    torch.testing.assert_close(losses[0], expected, rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(losses[1:], parent[1:]):   # box and mask losses are the parent's
        torch.testing.assert_close(ours, theirs)


def test_ground_truth_keeps_its_labels(tiny_cfg, make_batch):
    head, _ = build_heads(tiny_cfg)
    _, samples = make_batch(num_gts=(3, 1), label_offset=2)
    gts = head.class_agnostic_gt(samples)
    assert gts[0].labels.tolist() == [2, 3, 4] and gts[1].labels.tolist() == [2]


def test_predictions_rank_query_class_pairs_by_default(tiny_cfg):
    """As mmdet's DINOHead (sigmoid): the top max_per_img of all Q x C scores, so one query can
    give two detections (its box with two classes) and a query's second class can outrank
    another query's best."""
    head, _ = build_heads(tiny_cfg)
    assert head.ranking == 'pairs'
    head.test_cfg['max_per_img'] = 4
    cls = torch.full((1, 3, NUM_CLASSES), -6.0)
    cls[0, 0, 2], cls[0, 0, 3] = 2.0, 1.5        # query 0: two likely classes
    cls[0, 1, 4], cls[0, 2, 0] = 1.0, -1.0
    boxes = torch.tensor([[[0.5, 0.5, 1.0, 1.0], [0.25, 0.25, 0.5, 0.5], [0.5, 0.5, 0.2, 0.2]]])
    masks = torch.full((1, 3, 8, 12), -1.0)
    masks[0, 0, :4] = 1.0                         # query 0's mask: the top half
    meta = dict(img_shape=(32, 48), batch_input_shape=(32, 48), ori_shape=(32, 48),
                scale_factor=(1.0, 1.0))
    res = head.predict_by_feat(cls, boxes, masks, [meta])[0]
    assert res.labels.tolist() == [2, 3, 4, 0]
    torch.testing.assert_close(res.scores, torch.tensor([2.0, 1.5, 1.0, -1.0]).sigmoid())
    for k in (0, 1):                              # both pairs of query 0: its box and mask
        torch.testing.assert_close(res.bboxes[k], torch.tensor([0., 0., 48., 32.]))
        assert res.masks[k, :16].all() and not res.masks[k, 16:].any()
    torch.testing.assert_close(res.bboxes[2], torch.tensor([0., 0., 24., 16.]))  # query 1's
    assert res.masks.shape == (4, 32, 48) and res.masks.dtype == torch.bool


def test_query_ranking_takes_each_querys_best_class(tiny_cfg):
    head, _ = build_heads(tiny_cfg, ranking='query')
    cls = torch.full((1, 3, NUM_CLASSES), -6.0)
    cls[0, 0, 2], cls[0, 1, 4], cls[0, 2, 0] = 1.0, 3.0, -1.0
    boxes = torch.tensor([[[0.5, 0.5, 1.0, 1.0], [0.25, 0.25, 0.5, 0.5], [0.5, 0.5, 0.2, 0.2]]])
    meta = dict(img_shape=(32, 48), batch_input_shape=(32, 48), ori_shape=(32, 48),
                scale_factor=(1.0, 1.0))
    res = head.predict_by_feat(cls, boxes, torch.zeros(1, 3, 8, 12), [meta])[0]
    assert res.labels.tolist() == [4, 2, 0]       # ranked by the best class's score
    torch.testing.assert_close(res.scores, torch.tensor([3.0, 1.0, -1.0]).sigmoid())
    torch.testing.assert_close(res.bboxes[0], torch.tensor([0., 0., 24., 16.]))  # query 1's


def test_class_aware_detector_trains_and_predicts_classes(tiny_cfg, make_batch):
    detector = MODELS.build(class_aware(tiny_cfg.proposal_network))
    detector.init_weights()
    assert detector.dn_query_generator.num_classes == NUM_CLASSES
    inputs, samples = make_batch(num_gts=(3, 1), label_offset=1)
    losses = detector.loss(inputs, samples)
    assert 'loss_cls' in losses and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert detector.bbox_head.cls_branches[0].weight.grad.abs().sum() > 0
    detector.eval()
    with torch.no_grad():
        pred = detector.predict(inputs, samples)[0].pred_instances
    assert pred.labels.shape == (20, ) and pred.labels.max() < NUM_CLASSES
    assert (pred.scores[:-1] >= pred.scores[1:]).all()


def test_num_classes_and_ranking_are_checked():
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(dict(type='ClassAwareMaskDINOHead', num_classes=0, embed_dims=32))
    with pytest.raises(ValueError, match='ranking'):
        MODELS.build(dict(type='ClassAwareMaskDINOHead', num_classes=2, ranking='best',
                          embed_dims=32))
