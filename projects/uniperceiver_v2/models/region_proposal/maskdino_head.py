"""Mask DINO-style head with binary (foreground / background) objectness (paper Sec. 4.1).

It extends mmdet's :class:`~mmdet.models.dense_heads.DINOHead` (classification and box branches,
box refinement, denoising split) with a Mask DINO mask branch: per-query mask logits are the dot
product of a mask-embedding MLP of the query with a pixel-embedding map,
``m_q = MLP(q) . E_pix`` (einsum over channels).  All matching queries, the two-stage encoder
queries and the contrastive denoising queries of every decoder layer are supervised with focal
objectness, L1 + GIoU box and point-sampled BCE + Dice mask losses (Mask2Former-style uncertainty
point sampling; on maps with at most ``num_points`` pixels every pixel centre is used instead).  Matching is mmdet's ``HungarianAssigner``.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmcv.ops import point_sample
from mmdet.models.dense_heads import DINOHead
from mmdet.models.layers.transformer.utils import MLP, inverse_sigmoid
from mmdet.models.utils import get_uncertain_point_coords_with_randomness
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_xyxy_to_cxcywh
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmdet.utils import ConfigType, InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ...engine.protocols import CollectiveLoss
from ...utils.dist import loss_normaliser
from .postprocess import boxes_to_original, mask_logits_to_original


def gt_masks_to_tensor(gt_instances: InstanceData, pad_shape: Tuple[int, int],
                       device: torch.device) -> Tensor:
    """Ground-truth masks of one image as a ``(G, H, W)`` float tensor of the padded batch size.

    The data preprocessor pads them already (``DetDataPreprocessor(pad_mask=True)``, set in the
    configs); masks of another size (a preprocessor without ``pad_mask``, hand-made samples) are
    padded here with mmdet's ``BitmapMasks.pad`` / rasterised at the padded size
    (``PolygonMasks``).

    Args:
        gt_instances (InstanceData): with ``masks`` (BitmapMasks or PolygonMasks) at the network
            input scale, top-left aligned.
        pad_shape (tuple[int, int]): ``(H, W)`` of the padded batch (``batch_input_shape``).
        device (torch.device): output device.

    Returns:
        Tensor: ``(G, H, W)`` float masks in {0, 1}.
    """
    if 'masks' not in gt_instances:
        raise KeyError('MaskDINOHead: gt_instances has no `masks` field; the proposal network is '
                       'trained with masks (add with_mask=True to LoadAnnotations).')
    masks = gt_instances.masks
    if not isinstance(masks, (BitmapMasks, PolygonMasks)):
        raise TypeError('MaskDINOHead: gt_instances.masks must be BitmapMasks or PolygonMasks, '
                        f'got {type(masks)}')
    pad_shape = tuple(int(v) for v in pad_shape)
    if masks.height > pad_shape[0] or masks.width > pad_shape[1]:
        raise ValueError(f'MaskDINOHead: gt mask size {(masks.height, masks.width)} exceeds '
                         f'batch_input_shape {pad_shape}; masks must be at the network input scale')
    if (masks.height, masks.width) != pad_shape:
        masks = masks.pad(pad_shape)
    return masks.to_tensor(dtype=torch.float32, device=device).reshape(-1, *pad_shape)


@MODELS.register_module()
class MaskDINOHead(DINOHead, CollectiveLoss):
    """DINO head + Mask DINO mask branch, binary objectness.

    Args:
        num_classes (int): must be 1 (foreground objectness). Defaults to 1.
        mask_dims (int, optional): channels of the pixel embedding / mask embedding. Defaults to
            ``embed_dims``.
        loss_mask (dict): point-wise mask BCE config. Defaults to weight 5.0.
        loss_dice (dict): Dice loss config. Defaults to weight 5.0.
        train_cfg (dict): ``assigner`` (HungarianAssigner with FocalLossCost, BBoxL1Cost, IoUCost,
            CrossEntropyLossCost(use_sigmoid) and DiceCost, all of which read ``masks`` as
            ``(num, num_points)`` point samples), ``num_points`` (12544), ``oversample_ratio`` (3.0),
            ``importance_sample_ratio`` (0.75), ``exact_mask_matching`` (False): the mask
            matching costs on every pixel centre of the mask map instead of ``num_points``
            random points when the map has more pixels than that - [ours], not in the paper
            (Mask DINO samples; the exact cost is deterministic and, on small maps, as cheap;
            its memory is ``Q x h x w`` per image).  The losses sample as before.
        **kwargs: :class:`~mmdet.models.dense_heads.DINOHead` arguments (``loss_cls``, ``loss_bbox``,
            ``loss_iou``, ``embed_dims``, ``test_cfg`` ...).
    """

    def __init__(self,
                 *args,
                 num_classes: int = 1,
                 mask_dims: Optional[int] = None,
                 loss_mask: ConfigType = dict(
                     type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                     loss_weight=5.0),
                 loss_dice: ConfigType = dict(
                     type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                     naive_dice=True, eps=1.0, loss_weight=5.0),
                 **kwargs) -> None:
        if num_classes != 1:
            raise ValueError(f'MaskDINOHead.num_classes must be 1 (binary objectness), '
                             f'got {num_classes}')
        self.mask_dims = mask_dims
        super().__init__(*args, num_classes=num_classes, **kwargs)
        if not self.loss_cls.use_sigmoid:
            raise ValueError('MaskDINOHead.loss_cls must use sigmoid (focal objectness)')
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_dice = MODELS.build(loss_dice)
        train_cfg = self.train_cfg or {}
        self.num_points = train_cfg.get('num_points', 12544)
        self.oversample_ratio = train_cfg.get('oversample_ratio', 3.0)
        self.importance_sample_ratio = train_cfg.get('importance_sample_ratio', 0.75)
        self.exact_mask_matching = bool(train_cfg.get('exact_mask_matching', False))

    def collectives_in_loss(self) -> List[str]:
        """Config keys that make the loss enter a cross-rank collective.

        ``sync_cls_avg_factor`` (mmdet ``DETRHead``'s flag) averages the one normaliser of every
        loss set here, the number of matched queries, over ranks (DINO's semantics); with it off
        each rank uses its own count (see :func:`~uniperceiver_v2.utils.dist.loss_normaliser`).
        """
        return ['sync_cls_avg_factor'] if self.sync_cls_avg_factor else []

    def _init_layers(self) -> None:
        """DINO classification / box branches plus the shared mask-embedding MLP."""
        super()._init_layers()
        if self.mask_dims is None:
            self.mask_dims = self.embed_dims
        self.mask_embed = MLP(self.embed_dims, self.embed_dims, self.mask_dims, 3)

    # ------------------------------------------------------------------ forward
    @staticmethod
    def mask_logits(mask_embed: Tensor, mask_features: Tensor) -> Tensor:
        """Mask logits from mask embeddings: ``einsum(MLP(q), E_pix)`` over channels.

        Args:
            mask_embed (Tensor): ``(..., B, Q, mask_dims)`` outputs of the mask-embedding MLP.
            mask_features (Tensor): ``(B, mask_dims, h, w)`` pixel embedding.

        Returns:
            Tensor: ``(..., B, Q, h, w)`` mask logits.
        """
        return torch.einsum('...bqc,bchw->...bqhw', mask_embed, mask_features)

    def forward_masks(self, queries: Tensor, mask_features: Tensor) -> Tensor:
        """Mask logits ``MLP(q) . E_pix``.

        Args:
            queries (Tensor): ``(..., B, Q, C)`` query features.
            mask_features (Tensor): ``(B, mask_dims, h, w)`` pixel embedding.

        Returns:
            Tensor: ``(..., B, Q, h, w)`` mask logits.
        """
        return self.mask_logits(self.mask_embed(queries), mask_features)

    def forward(self, hidden_states: Tensor, references: List[Tensor],
                mask_features: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Predictions of every decoder layer (full masks; training uses mask embeddings).

        Args:
            hidden_states (Tensor): ``(L, B, Q, C)`` decoder outputs.
            references (list[Tensor]): ``L + 1`` reference boxes ``(B, Q, 4)``.
            mask_features (Tensor): ``(B, mask_dims, h, w)`` pixel embedding.

        Returns:
            tuple[Tensor]: objectness logits ``(L, B, Q, 1)``, boxes ``(L, B, Q, 4)`` normalised
            cxcywh, mask logits ``(L, B, Q, h, w)``.
        """
        cls_scores, bbox_preds = super().forward(hidden_states, references)
        return cls_scores, bbox_preds, self.forward_masks(hidden_states, mask_features)

    def forward_last_layer(self, hidden_states: Tensor, references: List[Tensor]
                           ) -> Tuple[Tensor, Tensor, Tensor]:
        """Predictions of the final decoder layer only (with that layer's own branches).

        Args:
            hidden_states (Tensor): ``(L, B, Q, C)`` decoder outputs.
            references (list[Tensor]): ``L + 1`` reference boxes ``(B, Q, 4)``.

        Returns:
            tuple[Tensor]: logits ``(B, Q, 1)``, boxes ``(B, Q, 4)``, mask embeddings
            ``(B, Q, mask_dims)`` (see :meth:`mask_logits`).
        """
        last = hidden_states.shape[0] - 1
        query = hidden_states[last]
        boxes = self.reg_branches[last](query) + inverse_sigmoid(references[last])
        return self.cls_branches[last](query), boxes.sigmoid(), self.mask_embed(query)

    # ------------------------------------------------------------------ targets
    @staticmethod
    def class_agnostic_gt(batch_data_samples: SampleList) -> InstanceList:
        """Shallow copies of the gt instances with every label set to 0 (foreground)."""
        out = []
        for sample in batch_data_samples:
            if 'gt_instances' not in sample:
                raise KeyError('MaskDINOHead: data sample has no `gt_instances` (needed for loss)')
            gt = InstanceData(metainfo=sample.gt_instances.metainfo)
            for key, value in sample.gt_instances.items():
                gt[key] = value
            gt.labels = torch.zeros_like(sample.gt_instances.labels)
            out.append(gt)
        return out

    def _matching_points(self, h: int, w: int, device: torch.device) -> Tensor:
        """``(1, P, 2)`` normalised ``(x, y)`` points for the mask matching costs: ``num_points``
        random points (Mask2Former), or every pixel centre when the map has fewer pixels or
        ``train_cfg.exact_mask_matching`` is set."""
        if h * w <= self.num_points or self.exact_mask_matching:
            ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
            xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
            grid = torch.stack(torch.meshgrid(xs, ys, indexing='xy'), -1)
            return grid.reshape(1, -1, 2)
        return torch.rand((1, self.num_points, 2), device=device)

    def _assign(self, cls_score: Tensor, bbox_pred: Tensor, mask_embed: Tensor,
                mask_feature: Tensor, gt: InstanceData, gt_masks: Tensor,
                img_meta: dict) -> Tensor:
        """Hungarian assignment of one image.

        Mask logits are only evaluated at the matching points: sampling the pixel embedding and
        then taking the dot product equals sampling the mask logits (bilinear sampling is linear).

        Args:
            cls_score (Tensor): ``(Q, 1)`` logits.
            bbox_pred (Tensor): ``(Q, 4)`` normalised cxcywh.
            mask_embed (Tensor): ``(Q, mask_dims)`` mask embeddings.
            mask_feature (Tensor): ``(mask_dims, h, w)`` pixel embedding of the image.
            gt (InstanceData): ``labels``, ``bboxes`` (xyxy input pixels).
            gt_masks (Tensor): ``(G, H, W)`` padded float masks.
            img_meta (dict): with ``img_shape``.

        Returns:
            Tensor: ``(Q,)`` long, matched gt index or -1.
        """
        num_queries, num_gts = bbox_pred.shape[0], len(gt.labels)
        if num_gts == 0:
            return bbox_pred.new_full((num_queries, ), -1, dtype=torch.long)
        img_h, img_w = img_meta['img_shape']
        factor = bbox_pred.new_tensor([img_w, img_h, img_w, img_h])
        points = self._matching_points(*mask_feature.shape[-2:], device=bbox_pred.device)
        pred_points = mask_embed @ point_sample(mask_feature[None], points)[0]
        gt_points = point_sample(gt_masks.unsqueeze(1), points.expand(num_gts, -1, -1)).squeeze(1)
        pred_instances = InstanceData(
            scores=cls_score, bboxes=bbox_cxcywh_to_xyxy(bbox_pred) * factor, masks=pred_points)
        gt_instances = InstanceData(labels=gt.labels, bboxes=gt.bboxes, masks=gt_points)
        result = self.assigner.assign(
            pred_instances=pred_instances, gt_instances=gt_instances, img_meta=img_meta)
        return result.gt_inds - 1

    # ------------------------------------------------------------------ losses
    def _set_losses(self, cls_scores: Tensor, bbox_preds: Tensor, mask_embed: Tensor,
                    mask_features: Tensor, assigned: Tensor, batch_gt: InstanceList,
                    batch_gt_masks: List[Tensor],
                    batch_img_metas: List[dict]) -> Tuple[Tensor, ...]:
        """Losses of one set of predictions given the assignment (vectorised over the batch).

        Full-resolution mask logits are only formed for the matched queries.

        Args:
            cls_scores (Tensor): ``(B, Q, 1)`` objectness logits.
            bbox_preds (Tensor): ``(B, Q, 4)`` normalised cxcywh.
            mask_embed (Tensor): ``(B, Q, mask_dims)`` mask embeddings.
            mask_features (Tensor): ``(B, mask_dims, h, w)`` pixel embedding.
            assigned (Tensor): ``(B, Q)`` long, matched gt index or -1.
            batch_gt (list[InstanceData]): per image ``bboxes`` (xyxy input pixels).
            batch_gt_masks (list[Tensor]): per image ``(G, H, W)`` padded masks.
            batch_img_metas (list[dict]): per image meta with ``img_shape``.

        Returns:
            tuple[Tensor]: ``loss_cls, loss_bbox, loss_iou, loss_mask, loss_dice``.
        """
        pos = assigned >= 0
        pos_b, pos_q = torch.nonzero(pos, as_tuple=True)
        pos_gt = assigned[pos_b, pos_q]
        num_pos = loss_normaliser(cls_scores.new_tensor([float(pos_b.numel())]),
                                  self.sync_cls_avg_factor).clamp(min=1).item()

        labels = torch.full_like(assigned, self.num_classes)
        labels[pos_b, pos_q] = 0
        loss_cls = self.loss_cls(cls_scores.reshape(-1, self.cls_out_channels),
                                 labels.reshape(-1), avg_factor=num_pos)
        if pos_b.numel() == 0:
            zero = bbox_preds.sum() * 0 + mask_embed.sum() * 0
            return loss_cls, zero, zero, zero, zero

        factors = torch.stack([
            bbox_preds.new_tensor([m['img_shape'][1], m['img_shape'][0]] * 2)
            for m in batch_img_metas
        ])[pos_b]
        gt_boxes_xyxy = torch.cat([gt.bboxes for gt in batch_gt])
        offsets = torch.tensor([0] + [len(gt.bboxes) for gt in batch_gt],
                               device=assigned.device).cumsum(0)
        flat_gt = offsets[pos_b] + pos_gt
        tgt_xyxy = gt_boxes_xyxy[flat_gt].to(bbox_preds.dtype)
        pred_cxcywh = bbox_preds[pos_b, pos_q]
        loss_bbox = self.loss_bbox(pred_cxcywh, bbox_xyxy_to_cxcywh(tgt_xyxy / factors),
                                   avg_factor=num_pos)
        loss_iou = self.loss_iou(bbox_cxcywh_to_xyxy(pred_cxcywh) * factors, tgt_xyxy,
                                 avg_factor=num_pos)

        # matched queries' embeddings packed per image (B, K, C) -> their masks only
        slots = (pos.long().cumsum(1) - 1)[pos_b, pos_q]
        packed = mask_embed.new_zeros(pos.shape[0], int(pos.sum(1).max()), mask_embed.shape[-1])
        packed[pos_b, slots] = mask_embed[pos_b, pos_q]
        pos_masks = self.mask_logits(packed, mask_features)[pos_b, slots].unsqueeze(1)
        tgt_masks = torch.cat(batch_gt_masks)[flat_gt].unsqueeze(1)
        h, w = pos_masks.shape[-2:]
        if h * w <= self.num_points:
            # small maps: every pixel centre (exact, no sampling / uncertainty top-k needed)
            with torch.no_grad():
                grid = self._matching_points(h, w, pos_masks.device)
                tgt_points = point_sample(tgt_masks, grid.expand(len(tgt_masks), -1, -1))
                tgt_points = tgt_points.squeeze(1)
            pred_points = pos_masks.flatten(1)          # = point_sample at the pixel centres
        else:   # Mask2Former: uncertainty-based importance sampling of num_points points
            with torch.no_grad():
                points = get_uncertain_point_coords_with_randomness(
                    pos_masks, None, self.num_points, self.oversample_ratio,
                    self.importance_sample_ratio)
                tgt_points = point_sample(tgt_masks, points).squeeze(1)
            pred_points = point_sample(pos_masks, points).squeeze(1)
        loss_dice = self.loss_dice(pred_points, tgt_points, avg_factor=num_pos)
        loss_mask = self.loss_mask(pred_points.reshape(-1), tgt_points.reshape(-1),
                                   avg_factor=num_pos * pred_points.shape[1])
        return loss_cls, loss_bbox, loss_iou, loss_mask, loss_dice

    def _match_and_loss(self, cls_scores: Tensor, bbox_preds: Tensor, mask_embed: Tensor,
                        mask_features: Tensor, batch_gt: InstanceList,
                        batch_gt_masks: List[Tensor],
                        batch_img_metas: List[dict]) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """Hungarian-match one set of predictions ``(B, Q, ...)`` and compute its losses."""
        with torch.no_grad():
            assigned = torch.stack([
                self._assign(cls_scores[i].detach(), bbox_preds[i].detach(),
                             mask_embed[i].detach(), mask_features[i].detach(), batch_gt[i],
                             batch_gt_masks[i], batch_img_metas[i]) for i in range(len(batch_gt))
            ])
        losses = self._set_losses(cls_scores, bbox_preds, mask_embed, mask_features, assigned,
                                  batch_gt, batch_gt_masks, batch_img_metas)
        return losses, assigned

    @staticmethod
    def dn_assignment(batch_gt: InstanceList, dn_meta: Dict[str, int],
                      device: torch.device) -> Tensor:
        """The fixed assignment of contrastive denoising queries (positive half of each group).

        Returns:
            Tensor: ``(B, num_denoising_queries)`` long, gt index or -1.
        """
        num_dn = dn_meta['num_denoising_queries']
        num_groups = dn_meta['num_denoising_groups']
        per_group = num_dn // num_groups
        assigned = torch.full((len(batch_gt), num_dn), -1, dtype=torch.long, device=device)
        for i, gt in enumerate(batch_gt):
            num_gts = len(gt.labels)
            if num_gts == 0:
                continue
            gt_idx = torch.arange(num_gts, device=device)
            query_idx = (torch.arange(num_groups, device=device)[:, None] * per_group
                         + gt_idx[None]).flatten()
            assigned[i, query_idx] = gt_idx.repeat(num_groups)
        return assigned

    def loss_and_assign(self, hidden_states: Tensor, references: List[Tensor],
                        mask_features: Tensor, enc_outputs_class: Tensor,
                        enc_outputs_coord: Tensor, enc_outputs_query: Tensor,
                        batch_data_samples: SampleList,
                        dn_meta: Optional[Dict[str, int]]) -> Tuple[dict, tuple, Tensor]:
        """All proposal losses, the predictions and the final layer's assignment.

        Args:
            hidden_states (Tensor): ``(L, B, Q_dn + Q, C)`` decoder outputs.
            references (list[Tensor]): ``L + 1`` reference boxes.
            mask_features (Tensor): ``(B, mask_dims, h, w)`` pixel embedding.
            enc_outputs_class (Tensor): ``(B, Q, 1)`` logits of the selected encoder queries.
            enc_outputs_coord (Tensor): ``(B, Q, 4)`` their boxes.
            enc_outputs_query (Tensor): ``(B, Q, C)`` their (transformed) memory features.
            batch_data_samples (list[DetDataSample]): with ``gt_instances``.
            dn_meta (dict, optional): denoising split (None: no denoising queries).

        Returns:
            tuple: loss dict; the matching-query predictions ``(cls (L,B,Q,1), boxes (L,B,Q,4),
            mask embeddings (L,B,Q,mask_dims))`` (masks: :meth:`mask_logits` with
            ``mask_features``); ``(L, B, Q)`` every decoder layer's assigned gt index (-1 = no
            object; ``[-1]`` is the final layer's).
        """
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        batch_gt = self.class_agnostic_gt(batch_data_samples)
        pad_shape = tuple(batch_img_metas[0]['batch_input_shape'])
        device = hidden_states.device
        batch_gt_masks = [gt_masks_to_tensor(gt, pad_shape, device) for gt in batch_gt]

        all_cls, all_boxes = super().forward(hidden_states, references)
        all_embed = self.mask_embed(hidden_states)                    # (L, B, Q_total, C_mask)
        num_dn = dn_meta['num_denoising_queries'] if dn_meta is not None else 0
        names = ('loss_cls', 'loss_bbox', 'loss_iou', 'loss_mask', 'loss_dice')
        losses = {}
        num_layers = all_cls.shape[0]
        layer_assigned = []
        for layer in range(num_layers):
            layer_losses, assigned = self._match_and_loss(
                all_cls[layer, :, num_dn:], all_boxes[layer, :, num_dn:],
                all_embed[layer, :, num_dn:], mask_features, batch_gt, batch_gt_masks,
                batch_img_metas)
            prefix = '' if layer == num_layers - 1 else f'd{layer}.'
            losses.update({prefix + n: v for n, v in zip(names, layer_losses)})
            layer_assigned.append(assigned)

        enc_losses, _ = self._match_and_loss(enc_outputs_class, enc_outputs_coord,
                                             self.mask_embed(enc_outputs_query), mask_features,
                                             batch_gt, batch_gt_masks, batch_img_metas)
        losses.update({'enc_' + n: v for n, v in zip(names, enc_losses)})

        if num_dn > 0:
            dn_assigned = self.dn_assignment(batch_gt, dn_meta, device)
            for layer in range(num_layers):
                dn_losses = self._set_losses(
                    all_cls[layer, :, :num_dn], all_boxes[layer, :, :num_dn],
                    all_embed[layer, :, :num_dn], mask_features, dn_assigned, batch_gt,
                    batch_gt_masks, batch_img_metas)
                prefix = '' if layer == num_layers - 1 else f'd{layer}.'
                losses.update({prefix + 'dn_' + n: v for n, v in zip(names, dn_losses)})
        preds = (all_cls[:, :, num_dn:], all_boxes[:, :, num_dn:], all_embed[:, :, num_dn:])
        return losses, preds, torch.stack(layer_assigned)

    def loss(self, hidden_states: Tensor, references: List[Tensor], mask_features: Tensor,
             enc_outputs_class: Tensor, enc_outputs_coord: Tensor, enc_outputs_query: Tensor,
             batch_data_samples: SampleList, dn_meta: Optional[Dict[str, int]]) -> dict:
        """Loss dict only (mmdet detector API); see :meth:`loss_and_assign`."""
        return self.loss_and_assign(hidden_states, references, mask_features, enc_outputs_class,
                                    enc_outputs_coord, enc_outputs_query, batch_data_samples,
                                    dn_meta)[0]

    # ------------------------------------------------------------------ predict
    def predict(self, hidden_states: Tensor, references: List[Tensor], mask_features: Tensor,
                batch_data_samples: SampleList, rescale: bool = True) -> InstanceList:
        """Class-agnostic instances per image from the last decoder layer.

        Returns:
            list[InstanceData]: ``bboxes`` (xyxy, original image coordinates when ``rescale``),
            ``masks`` (bool, original size when ``rescale``), ``labels`` (all 0), ``scores``.
        """
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        cls_scores, bbox_preds, mask_embed = self.forward_last_layer(hidden_states, references)
        return self.predict_by_feat(cls_scores, bbox_preds,
                                    self.mask_logits(mask_embed, mask_features), batch_img_metas,
                                    rescale)

    def predict_by_feat(self, cls_scores: Tensor, bbox_preds: Tensor, mask_preds: Tensor,
                        batch_img_metas: List[dict], rescale: bool = True) -> InstanceList:
        """Top ``test_cfg.max_per_img`` proposals of each image as instances.

        Args:
            cls_scores (Tensor): ``(B, Q, 1)`` logits.
            bbox_preds (Tensor): ``(B, Q, 4)`` normalised cxcywh.
            mask_preds (Tensor): ``(B, Q, h, w)`` mask logits over the padded batch.
            batch_img_metas (list[dict]): ``img_shape``, ``batch_input_shape``, ``ori_shape``,
                ``scale_factor``.
            rescale (bool): map to the original image.
        """
        max_per_img = min(self.test_cfg.get('max_per_img', 100), cls_scores.shape[1])
        scores, index = cls_scores[..., 0].sigmoid().topk(max_per_img, dim=1)
        results = []
        for i, meta in enumerate(batch_img_metas):
            det = boxes_to_original(bbox_preds[i, index[i]], meta, 'MaskDINOHead.predict', rescale)
            mask = mask_logits_to_original(mask_preds[i, index[i]], meta, rescale)
            results.append(InstanceData(bboxes=det, scores=scores[i], masks=mask > 0,
                                        labels=torch.zeros_like(index[i])))
        return results
