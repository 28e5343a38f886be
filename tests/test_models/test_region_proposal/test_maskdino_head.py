"""MaskDINOHead: each loss term against a direct computation, assignments, gt masks, predictions."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import point_sample
from mmdet.models.utils import get_uncertain_point_coords_with_randomness
from mmdet.registry import MODELS
from mmdet.structures.mask import PolygonMasks
from mmengine.structures import InstanceData
from torchvision.ops import generalized_box_iou, sigmoid_focal_loss

from uniperceiver_v2.models.region_proposal.maskdino_head import gt_masks_to_tensor


@pytest.fixture
def head(tiny_cfg):
    cfg = tiny_cfg.proposal_network
    head_cfg = dict(cfg.bbox_head, share_pred_layer=False, num_pred_layer=3, as_two_stage=True,
                    train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)
    head = MODELS.build(head_cfg)
    head.init_weights()
    return head


def _xyxy_to_cxcywh(b):
    return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0],
                        b[:, 3] - b[:, 1]], -1)


@pytest.mark.parametrize('num_points', [100, 256])
def test_each_loss_term_matches_direct_computation(head, num_points):
    head.num_points = num_points   # 10x15 mask map: 100 -> sampled points, 256 -> every pixel
    torch.manual_seed(0)
    num_q, img_h, img_w = 5, 40, 60
    metas = [dict(img_shape=(img_h, img_w), batch_input_shape=(40, 60))] * 2
    cls = torch.randn(2, num_q, 1)
    boxes = torch.rand(2, num_q, 4) * 0.5 + 0.2
    mask_embed = torch.randn(2, num_q, 8)
    mask_features = torch.randn(2, 8, 10, 15)
    masks = torch.einsum('bqc,bchw->bqhw', mask_embed, mask_features)
    gts = [InstanceData(bboxes=torch.tensor([[5., 5., 30., 20.], [10., 12., 50., 38.]]),
                        labels=torch.zeros(2, dtype=torch.long)),
           InstanceData(bboxes=torch.tensor([[0., 0., 20., 20.]]),
                        labels=torch.zeros(1, dtype=torch.long))]
    gt_masks = [(torch.rand(2, 40, 60) > 0.5).float(), (torch.rand(1, 40, 60) > 0.5).float()]
    assigned = torch.tensor([[-1, 1, -1, 0, -1], [0, -1, -1, -1, -1]])
    torch.manual_seed(1)
    loss_cls, loss_bbox, loss_iou, loss_mask, loss_dice = head._set_losses(
        cls, boxes, mask_embed, mask_features, assigned, gts, gt_masks, metas)

    pos = assigned >= 0
    num_pos = int(pos.sum())
    target = pos.float()[..., None]
    exp_cls = 4.0 * sigmoid_focal_loss(cls, target, alpha=0.25, gamma=2.0,
                                       reduction='sum') / num_pos
    torch.testing.assert_close(loss_cls, exp_cls, rtol=1e-4, atol=1e-5)

    factor = torch.tensor([img_w, img_h, img_w, img_h], dtype=torch.float32)
    pred = torch.stack([boxes[0, 1], boxes[0, 3], boxes[1, 0]])
    tgt_xyxy = torch.stack([gts[0].bboxes[1], gts[0].bboxes[0], gts[1].bboxes[0]])
    tgt = _xyxy_to_cxcywh(tgt_xyxy / factor)
    torch.testing.assert_close(loss_bbox, 5.0 * (pred - tgt).abs().sum() / num_pos,
                               rtol=1e-4, atol=1e-5)
    pred_xyxy = torch.cat([pred[:, :2] - pred[:, 2:] / 2, pred[:, :2] + pred[:, 2:] / 2],
                          -1) * factor
    giou = torch.diag(generalized_box_iou(pred_xyxy, tgt_xyxy))
    torch.testing.assert_close(loss_iou, 2.0 * (1 - giou).sum() / num_pos, rtol=1e-4, atol=1e-5)

    # masks: reproduce the uncertainty-sampled points with the same seed, then BCE / Dice directly
    pos_masks = torch.stack([masks[0, 1], masks[0, 3], masks[1, 0]])[:, None]
    tgt_masks = torch.stack([gt_masks[0][1], gt_masks[0][0], gt_masks[1][0]])[:, None]
    if num_points < 150:
        torch.manual_seed(1)
        points = get_uncertain_point_coords_with_randomness(
            pos_masks, None, head.num_points, head.oversample_ratio, head.importance_sample_ratio)
    else:   # pixel centres of the 10x15 map
        ys, xs = torch.meshgrid((torch.arange(10) + 0.5) / 10, (torch.arange(15) + 0.5) / 15,
                                indexing='ij')
        points = torch.stack([xs, ys], -1).reshape(1, -1, 2).expand(3, -1, -1)
    logits = point_sample(pos_masks, points)[:, 0]
    tgt = point_sample(tgt_masks, points)[:, 0]
    bce = F.binary_cross_entropy_with_logits(logits, tgt, reduction='sum')
    torch.testing.assert_close(loss_mask, 5.0 * bce / (num_pos * points.shape[1]),
                               rtol=1e-4, atol=1e-5)
    prob = logits.sigmoid()
    dice = 1 - (2 * (prob * tgt).sum(1) + 1) / (prob.sum(1) + tgt.sum(1) + 1)
    torch.testing.assert_close(loss_dice, 5.0 * dice.sum() / num_pos, rtol=1e-4, atol=1e-5)


def test_no_positive_gives_zero_geometry_losses(head):
    metas = [dict(img_shape=(32, 32), batch_input_shape=(32, 32))]
    cls = torch.randn(1, 4, 1, requires_grad=True)
    boxes = torch.rand(1, 4, 4, requires_grad=True)
    embed = torch.randn(1, 4, 32, requires_grad=True)
    gts = [InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))]
    losses = head._set_losses(cls, boxes, embed, torch.randn(1, 32, 8, 8), torch.full((1, 4), -1),
                              gts, [torch.zeros(0, 32, 32)], metas)
    assert losses[0] > 0 and all(float(v.detach()) == 0 for v in losses[1:])
    sum(losses).backward()
    assert cls.grad is not None and boxes.grad is not None and embed.grad is not None


def test_dn_assignment_positive_half_of_each_group(head):
    gts = [InstanceData(labels=torch.zeros(2, dtype=torch.long)),
           InstanceData(labels=torch.zeros(0, dtype=torch.long))]
    assigned = head.dn_assignment(gts, dict(num_denoising_queries=12, num_denoising_groups=3),
                                  torch.device('cpu'))
    assert assigned[0].tolist() == [0, 1, -1, -1] * 3
    assert (assigned[1] == -1).all()


def test_gt_masks_padded_and_polygons_rasterised():
    poly = PolygonMasks([[np.array([2., 2., 10., 2., 10., 8., 2., 8.])]], 12, 16)
    gt = InstanceData(masks=poly, labels=torch.zeros(1, dtype=torch.long))
    out = gt_masks_to_tensor(gt, (16, 24), torch.device('cpu'))
    assert out.shape == (1, 16, 24)
    assert out[0, 4, 5] == 1 and out[0, 12:].sum() == 0 and out[0, :, 16:].sum() == 0
    with pytest.raises(ValueError, match='batch_input_shape'):
        gt_masks_to_tensor(gt, (8, 8), torch.device('cpu'))
    with pytest.raises(KeyError, match='masks'):
        gt_masks_to_tensor(InstanceData(labels=torch.zeros(0)), (8, 8), torch.device('cpu'))


def test_predict_by_feat_maps_to_original_image(head):
    cls = torch.tensor([[[3.0], [-2.0], [1.0]]])
    boxes = torch.tensor([[[0.5, 0.5, 1.0, 1.0], [0.25, 0.25, 0.5, 0.5], [0.5, 0.5, 0.2, 0.2]]])
    masks = torch.full((1, 3, 8, 12), -5.0)
    masks[0, 0, :4, :6] = 5.0
    meta = dict(img_shape=(30, 40), batch_input_shape=(32, 48), ori_shape=(60, 80),
                scale_factor=(0.5, 0.5))
    res = head.predict_by_feat(cls, boxes, masks, [meta], rescale=True)[0]
    assert res.scores[0] == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item())
    torch.testing.assert_close(res.bboxes[0], torch.tensor([0., 0., 80., 60.]))
    assert res.masks.shape == (3, 60, 80) and res.masks.dtype == torch.bool
    assert res.masks[0, :20, :20].all() and not res.masks[0, 50:, 70:].any()
    assert (res.labels == 0).all()


def test_num_classes_must_be_one(tiny_cfg):
    cfg = dict(tiny_cfg.proposal_network.bbox_head, num_classes=80)
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(cfg)


def test_last_layer_predictions_use_that_layers_branches(head):
    torch.manual_seed(0)
    hidden = torch.randn(2, 1, 4, 32)             # (L, B, Q, C): 2 decoder layers
    refs = [torch.rand(1, 4, 4) * 0.8 + 0.1 for _ in range(3)]
    mask_features = torch.randn(1, 32, 6, 6)
    cls_all, box_all, mask_all = head(hidden, refs, mask_features)
    cls, box, embed = head.forward_last_layer(hidden, refs)
    torch.testing.assert_close(cls, cls_all[-1])
    torch.testing.assert_close(box, box_all[-1])
    torch.testing.assert_close(head.mask_logits(embed, mask_features), mask_all[-1])


def test_matching_mask_points_equal_sampled_mask_logits(head):
    # sampling the pixel embedding then the dot product == sampling the mask logits
    torch.manual_seed(0)
    embed, feat = torch.randn(5, 32), torch.randn(32, 6, 7)
    for h, w in ((6, 7), (200, 200)):           # pixel-centre grid / random points
        points = head._matching_points(h, w, torch.device('cpu'))
        assert points.shape == (1, min(h * w, head.num_points), 2)
    points = torch.rand(1, 50, 2)
    direct = point_sample(torch.einsum('qc,chw->qhw', embed, feat)[:, None],
                          points.expand(5, -1, -1))[:, 0]
    torch.testing.assert_close(embed @ point_sample(feat[None], points)[0], direct,
                               atol=1e-5, rtol=1e-4)


def test_exact_mask_matching_uses_every_pixel_centre(tiny_cfg):
    """train_cfg.exact_mask_matching: the matching costs see the whole h x w map (deterministic,
    independent of the random state); off (default) a larger map gets num_points random points."""
    cfg = tiny_cfg.proposal_network
    heads = {}
    for exact in (False, True):
        heads[exact] = MODELS.build(dict(
            cfg.bbox_head, share_pred_layer=False, num_pred_layer=3, as_two_stage=True,
            train_cfg=dict(cfg.train_cfg, num_points=16, exact_mask_matching=exact),
            test_cfg=cfg.test_cfg))
    assert not heads[False].exact_mask_matching
    h, w = 6, 7
    sampled = heads[False]._matching_points(h, w, torch.device('cpu'))
    assert sampled.shape == (1, 16, 2)
    exact = heads[True]._matching_points(h, w, torch.device('cpu'))
    assert exact.shape == (1, h * w, 2)
    ys = (torch.arange(h) + 0.5) / h
    xs = (torch.arange(w) + 0.5) / w
    assert set(map(tuple, exact[0].tolist())) == {(x, y) for x in xs.tolist() for y in ys.tolist()}
    # the assignment with exact costs does not depend on the random state
    head = heads[True]
    head.init_weights()
    torch.manual_seed(0)
    embed, feat = torch.randn(6, 32), torch.randn(32, h, w)
    cls, boxes = torch.randn(6, 1), torch.rand(6, 4) * 0.5 + 0.25
    gt = InstanceData(bboxes=torch.tensor([[2., 2., 20., 16.], [10., 4., 26., 22.]]),
                      labels=torch.zeros(2, dtype=torch.long))
    gt_masks = torch.zeros(2, 24, 28)
    gt_masks[0, 2:16, 2:20] = 1
    gt_masks[1, 4:22, 10:26] = 1
    meta = dict(img_shape=(24, 28), batch_input_shape=(24, 28))
    assigned = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        assigned.append(head._assign(cls, boxes, embed, feat, gt, gt_masks, meta))
    assert torch.equal(assigned[0], assigned[1]) and (assigned[0] >= 0).sum() == 2
