"""Referring-expression grounding by the unified likelihood (paper Eq. 1: every task is one
likelihood; here the candidates are the image's regions and the input is the expression).

x = the expression, ``g([<SPE>, f_text(expression)])_SPE``; the candidate set Y = the image's
region proposals, their decoder outputs ``g([<SPE>, global, proposals])_n`` (the tokens detection
classifies).  With its own temperature family::

    s_n = cos(g(f(x)), g(f(y_n))) / τ_grounding,     P(n | x) = softmax_n(s_n)            (Eq. 1)

Training: cross-entropy over the proposals against the proposal matched to the referred object,
the one whose box has the highest IoU with the ground-truth box (no other proposal can be "the"
object; a sample whose best IoU is below ``min_match_iou`` has no target and is left out).
Prediction: the most likely proposal, its box and mask straight from the proposal network.

Data: mmpretrain ``RefCOCO`` (one sample per expression: ``text``, ``gt_bboxes`` ``(1, 4)`` xyxy
in original image pixels) with mmpretrain's pipeline (``Resize`` keeps ``gt_bboxes`` in original
pixels and records ``scale_factor``); scored by mmpretrain ``VisualGroundingMetric``
(precision@1 at IoU 0.5 = ``acc``, and mean IoU), which reads ``pred_bboxes``.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.structures import InstanceData
from torch import Tensor

from ..attributes import TokenKind
from ..image_tokens import ImageTokens
from ..region_proposal.postprocess import (boxes_to_original, mask_logits_to_original,
                                           scale_factor)
from .base_task import BaseTask, texts_of

#: where expressions come from (for the missing-field error)
TEXT_SOURCE = "GroundingTask: mmpretrain RefCOCO / PackInputs algorithm_keys=['text', 'gt_bboxes']"


@MODELS.register_module()
class GroundingTask(BaseTask):
    """Referring-expression grounding: which proposal does the expression describe.

    Args:
        min_match_iou (float): a training sample's target is the proposal with the highest IoU
            with the referred box if that IoU is at least this (else the sample is left out of
            the loss). Default 0.
        with_mask (bool): also predict the chosen proposal's mask (``pred_instances.masks``).
        mask_threshold (float): sigmoid threshold of the predicted mask.
        family (str): temperature family (default ``'grounding'``).
        **kwargs: :class:`BaseTask` arguments (``num_proposals`` = candidates per image;
            ``use_global``; ``loss_weight``).  ``use_proposals`` must stay True.

    Data samples: mmpretrain ``DataSample`` with ``text`` (str) and, for the loss,
    ``gt_bboxes``; metainfo ``img_shape``, ``ori_shape``, ``scale_factor``.  Predictions:
    ``pred_bboxes`` ``(1, 4)`` (original pixels), ``pred_score`` ``(N,)`` and ``pred_instances``
    (one instance: ``bboxes``, ``scores``, ``labels`` = 0, ``proposal`` index, ``masks``).
    """

    def __init__(self, min_match_iou: float = 0.0, with_mask: bool = True,
                 mask_threshold: float = 0.5, family: str = 'grounding', **kwargs):
        if not kwargs.get('use_proposals', True):
            raise ValueError('GroundingTask: use_proposals must be True (the candidates are '
                             'the proposals)')
        super().__init__(family=family, **kwargs)
        if not 0.0 <= min_match_iou < 1.0:
            raise ValueError(f'GroundingTask.min_match_iou must be in [0, 1), got '
                             f'{min_match_iou}')
        if not 0.0 < mask_threshold < 1.0:
            raise ValueError(f'GroundingTask.mask_threshold must be in (0, 1), got '
                             f'{mask_threshold}')
        self.min_match_iou = min_match_iou
        self.with_mask = with_mask
        self.mask_threshold = mask_threshold

    # ------------------------------------------------------------------ likelihood
    def expression_features(self, model, texts: List[str]) -> Tensor:
        """``(B, C)`` <SPE> outputs of the expressions (a text-only input sequence)."""
        return self.encode_texts(model, texts, TokenKind.TEXT_INPUT)

    def logits(self, model, image_tokens: ImageTokens, expressions: Tensor) -> Tensor:
        """``(B, N)`` logits ``cos(expression_b, proposal_bn) / τ``; padded proposals -inf.

        Args:
            image_tokens (ImageTokens): the images' N proposals.
            expressions (Tensor): ``(B, C)`` expression features (one per image).
        """
        y = self.decode_proposals(model, image_tokens)                  # (B, N, C)
        logits = torch.cat([model.likelihood_head(x[None], cands, self.family)
                            for x, cands in zip(expressions, y)])      # (B, N)
        return logits.masked_fill(image_tokens.proposal_padding_mask, float('-inf'))

    def forward_logits(self, model, inputs: Tensor, data_samples: list,
                       texts: List[str]) -> Tuple[ImageTokens, Tensor]:
        """Image tokens and ``(B, N)`` logits of one expression per image."""
        if len(texts) != inputs.shape[0]:
            raise ValueError(f'GroundingTask: {len(texts)} expressions for {inputs.shape[0]} '
                             'images (one expression per sample; mmpretrain RefCOCO gives one)')
        image_tokens, _ = self.encode_image(model, inputs, data_samples)
        return image_tokens, self.logits(model, image_tokens,
                                         self.expression_features(model, texts))

    # ------------------------------------------------------------------ loss
    def matched_proposals(self, image_tokens: ImageTokens, data_samples: list) -> Tensor:
        """``(B,)`` target: the proposal with the highest IoU with the referred box (-100 when
        that IoU is below ``min_match_iou``)."""
        targets = []
        for i, sample in enumerate(data_samples):
            if 'gt_bboxes' not in sample:
                raise KeyError(f'GroundingTask: data sample has no `gt_bboxes` ({TEXT_SOURCE})')
            meta = sample.metainfo
            gt = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32,
                                 device=image_tokens.proposal_boxes.device).reshape(-1, 4)[:1]
            gt = gt * gt.new_tensor(scale_factor(meta, 'GroundingTask')).repeat(2)  # input px
            boxes = boxes_to_original(image_tokens.proposal_boxes[i], meta, 'GroundingTask',
                                      rescale=False)
            iou = bbox_overlaps(boxes, gt)[:, 0].masked_fill(
                image_tokens.proposal_padding_mask[i], -1.0)
            best, index = iou.max(0)
            targets.append(int(index) if float(best) >= self.min_match_iou else -100)
        return torch.tensor(targets, dtype=torch.long, device=image_tokens.proposal_boxes.device)

    def loss(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """CE over the proposals against the matched one (the proposal network is trained by
        detection).

        Returns:
            dict: ``loss_grounding`` and ``ground_acc`` (the most likely proposal is the matched
            one), multiplied by ``loss_weight``.
        """
        texts = texts_of(data_samples, 'text', True, TEXT_SOURCE)
        image_tokens, logits = self.forward_logits(model, inputs, data_samples, texts)
        with torch.no_grad():
            targets = self.matched_proposals(image_tokens, data_samples)
        valid = targets >= 0
        if bool(valid.any()):
            loss = F.cross_entropy(logits[valid], targets[valid])
        else:
            loss = logits.masked_fill(torch.isinf(logits), 0).sum() * 0.0
        with torch.no_grad():
            acc = ((logits.argmax(1) == targets) & valid).sum().float() / valid.sum().clamp(min=1)
        return self.weighted(dict(loss_grounding=loss, ground_acc=acc))

    # ------------------------------------------------------------------ predict
    def postprocess(self, logits: Tensor, image_tokens: ImageTokens,
                    batch_img_metas: List[dict]) -> List[InstanceData]:
        """The most likely proposal of each image, in original image coordinates.

        Returns:
            list[InstanceData]: one instance each: ``bboxes (1, 4)``, ``scores (1,)`` (its
            probability P(n | x)), ``labels (1,)`` = 0, ``proposal (1,)`` index, with
            ``with_mask`` ``masks (1, H_ori, W_ori)`` bool.
        """
        probs = logits.softmax(-1)
        scores, index = probs.max(-1)
        results = []
        for i, meta in enumerate(batch_img_metas):
            n = index[i:i + 1]
            result = InstanceData(
                bboxes=boxes_to_original(image_tokens.proposal_boxes[i, n], meta,
                                         'GroundingTask'),
                scores=scores[i:i + 1], labels=torch.zeros_like(n), proposal=n)
            if self.with_mask:
                result.masks = mask_logits_to_original(
                    image_tokens.proposal_mask_logits[i, n], meta).sigmoid() > self.mask_threshold
            results.append(result)
        return results

    def predict(self, model, inputs: Tensor, data_samples: list,
                texts: Optional[List[str]] = None) -> list:
        """Ground one expression per image.

        Args:
            texts (list[str], optional): expressions for this call (default: each sample's
                ``text``).

        Returns:
            list: ``data_samples`` with ``pred_bboxes`` (what ``VisualGroundingMetric`` reads),
            ``pred_score`` ``(N,)`` over the proposals and ``pred_instances``.
        """
        if data_samples is None:
            raise ValueError('GroundingTask.predict needs data_samples with image metainfo')
        if texts is None:
            texts = texts_of(data_samples, 'text', False, TEXT_SOURCE)
        image_tokens, logits = self.forward_logits(model, inputs, data_samples, list(texts))
        results = self.postprocess(logits, image_tokens, [s.metainfo for s in data_samples])
        for sample, result, row in zip(data_samples, results, logits.softmax(-1)):
            sample.pred_instances = result
            sample.pred_bboxes = result.bboxes
            sample.pred_score = row
        return data_samples

    def tensor(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """``logits (B, N)`` and ``boxes (B, N, 4)`` (normalised cxcywh)."""
        texts = texts_of(data_samples, 'text', False, TEXT_SOURCE)
        image_tokens, logits = self.forward_logits(model, inputs, data_samples, texts)
        return dict(logits=logits, boxes=image_tokens.proposal_boxes)
