"""The proposal network's Mask DINO head with class logits: the detection specialist's head.

The Uni-Perceiver v2 proposal network (:class:`MaskDINOHead`) scores binary objectness and leaves
the class to the unified likelihood.  A specialist detector of the same architecture scores the
classes itself: one sigmoid-focal logit per class (DINO / Mask DINO), class-aware Hungarian
matching (``FocalLossCost`` reads the gt labels), and predictions ranked over (query, class)
pairs as mmdet's DINO head ranks them.  Everything else - box, mask and denoising losses, point
sampling, box / mask post-processing - is the parent's.
"""
from typing import List

import torch
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from uniperceiver_v2.models.region_proposal.maskdino_head import MaskDINOHead
from uniperceiver_v2.models.region_proposal.postprocess import (boxes_to_original,
                                                                 mask_logits_to_original)
from uniperceiver_v2.utils.dist import loss_normaliser

RANKINGS = ('pairs', 'query')


@MODELS.register_module()
class ClassAwareMaskDINOHead(MaskDINOHead):
    """:class:`MaskDINOHead` with ``num_classes`` sigmoid-focal class logits.

    Used inside :class:`MaskDINOProposalDetector` as an ordinary class-aware mmdet instance
    segmenter (``experiments/generalist_vs_specialists/configs/specialists/``).  The detector builds its denoising queries from
    class-agnostic ground truth (every label 0, some flipped to random classes by mmdet's label
    noise): the denoising queries carry a noisy box and no class hint, and learn the class like
    the matching queries.

    Args:
        num_classes (int): number of object classes (one logit each, no background logit).
        ranking (str): how :meth:`predict_by_feat` picks its ``max_per_img`` detections:
            ``'pairs'`` (default) the top (query, class) pairs over all ``Q x num_classes``
            sigmoid scores, as mmdet's DINO / Deformable DETR heads (``scores.view(-1).topk``)
            and Mask DINO do - a query may give several classes; ``'query'`` one detection per
            query, its argmax class, the queries ranked by that score.
        **kwargs: :class:`MaskDINOHead` arguments (``num_classes`` excluded).
    """

    def __init__(self, *args, num_classes: int, ranking: str = 'pairs', **kwargs) -> None:
        if num_classes < 1:
            raise ValueError(f'ClassAwareMaskDINOHead.num_classes must be >= 1, got {num_classes}')
        if ranking not in RANKINGS:
            raise ValueError(f'ClassAwareMaskDINOHead.ranking must be one of {RANKINGS}, got '
                             f'{ranking!r}')
        self.ranking = ranking
        self._class_aware_num_classes = num_classes
        super().__init__(*args, num_classes=1, **kwargs)  # the parent refuses any other value

    def _init_layers(self) -> None:
        """The parent's layers with ``num_classes`` class logits per query."""
        self.num_classes = self.cls_out_channels = self._class_aware_num_classes
        super()._init_layers()

    @staticmethod
    def class_agnostic_gt(batch_data_samples: SampleList) -> InstanceList:
        """The ground truth the losses and the matching see: here with its class labels.

        (The parent's hook for its foreground-only labels; this head keeps the real ones.)
        """
        for sample in batch_data_samples:
            if 'gt_instances' not in sample:
                raise KeyError('ClassAwareMaskDINOHead: data sample has no `gt_instances`')
        return [sample.gt_instances for sample in batch_data_samples]

    def class_loss(self, cls_scores: Tensor, assigned: Tensor, batch_gt: InstanceList) -> Tensor:
        """Sigmoid focal loss of the class logits against the matched gt classes.

        Args:
            cls_scores (Tensor): ``(B, Q, num_classes)`` logits.
            assigned (Tensor): ``(B, Q)`` long, matched gt index or -1 (background: all-zero
                targets).
            batch_gt (list[InstanceData]): per image ``labels``.

        Returns:
            Tensor: the loss, normalised by the number of matched queries (as the parent's).
        """
        labels = torch.full_like(assigned, self.num_classes)
        for i, gt in enumerate(batch_gt):
            pos = assigned[i] >= 0
            labels[i, pos] = gt.labels[assigned[i, pos]]
        num_pos = loss_normaliser(cls_scores.new_tensor([float((assigned >= 0).sum())]),
                                  self.sync_cls_avg_factor).clamp(min=1).item()
        return self.loss_cls(cls_scores.reshape(-1, self.cls_out_channels), labels.reshape(-1),
                             avg_factor=num_pos)

    def _set_losses(self, cls_scores: Tensor, bbox_preds: Tensor, mask_embed: Tensor,
                    mask_features: Tensor, assigned: Tensor, batch_gt: InstanceList,
                    batch_gt_masks: List[Tensor], batch_img_metas: List[dict]) -> tuple:
        """The parent's box and mask losses; the class loss against the gt classes
        (:meth:`class_loss`) instead of its foreground-only one."""
        losses = super()._set_losses(cls_scores, bbox_preds, mask_embed, mask_features, assigned,
                                     batch_gt, batch_gt_masks, batch_img_metas)
        return (self.class_loss(cls_scores, assigned, batch_gt), *losses[1:])

    def predict_by_feat(self, cls_scores: Tensor, bbox_preds: Tensor, mask_preds: Tensor,
                        batch_img_metas: List[dict], rescale: bool = True) -> InstanceList:
        """The top ``test_cfg.max_per_img`` detections of each image, by ``ranking``.

        ``'pairs'``: the best (query, class) pairs over all sigmoid scores (mmdet
        ``DETRHead`` family with a sigmoid loss: ``scores.view(-1).topk``), each pair with its
        query's box and mask.  ``'query'``: each query's best class; the parent keeps the top
        queries by that class's score.

        Args:
            cls_scores (Tensor): ``(B, Q, num_classes)`` logits.
            bbox_preds, mask_preds, batch_img_metas, rescale: as
                :meth:`MaskDINOHead.predict_by_feat`.
        """
        if self.ranking == 'query':
            best, labels = cls_scores.max(-1)
            results = super().predict_by_feat(best[..., None], bbox_preds, mask_preds,
                                              batch_img_metas, rescale)
            max_per_img = min(self.test_cfg.get('max_per_img', 100), cls_scores.shape[1])
            index = best.sigmoid().topk(max_per_img, dim=1)[1]  # the parent's choice, recomputed
            for i, result in enumerate(results):
                result.labels = labels[i, index[i]]
            return results
        num_classes = cls_scores.shape[-1]
        max_per_img = min(self.test_cfg.get('max_per_img', 100), cls_scores[0].numel())
        scores, index = cls_scores.sigmoid().flatten(1).topk(max_per_img, dim=1)
        query, labels = index // num_classes, index % num_classes
        results = []
        for i, meta in enumerate(batch_img_metas):
            boxes = boxes_to_original(bbox_preds[i, query[i]], meta,
                                      'ClassAwareMaskDINOHead.predict', rescale)
            masks = mask_logits_to_original(mask_preds[i, query[i]], meta, rescale)
            results.append(InstanceData(bboxes=boxes, scores=scores[i], labels=labels[i],
                                        masks=masks > 0))
        return results
