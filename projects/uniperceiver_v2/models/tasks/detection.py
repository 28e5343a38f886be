"""Object detection and instance segmentation by the unified likelihood (paper Eq. 1, per proposal).

Detection is not a classifier head.  Every region proposal's token goes through the shared decoder
together with the image's global tokens (one sequence ``[<SPE>, global, proposals]`` per image, all
images of a batch in ONE decoder call), and the decoder output ``x_n`` of proposal ``n`` is compared
with the class names ``y_k`` (same text encoder and decoder, cached at evaluation) by the unified
likelihood::

    s_nk = cos(g(f(x))_n, g(f(y_k))_SPE) / τ_detection                                   (Eq. 1)

The box and mask of a detection come straight from the proposal network; the class comes from
``s_nk``.  Training reuses the proposal network's Hungarian assignment
(``ImageTokens.proposal_gt_index`` from ``ImageEncoder.loss``; no second matching) and adds the
proposal-network losses, so one detection iteration trains localisation and classification.

"No object" (unmatched proposals, config field ``no_object``):

* ``'sigmoid'`` (default) - sigmoid focal loss over the classes, ``p_nk = σ(s_nk + b)``.  An
  unmatched proposal gets all-zero targets: it is "no object" exactly when it resembles no class
  name.  This needs no background candidate, so the candidate set Y can be replaced at test time by
  any list of names (subset, synonyms, unseen categories) and the scores of different names stay
  independent, which is what open-vocabulary detection needs.  The focal loss (mmdet ``FocalLoss``,
  averaged over the matched proposals as in DINO / Mask DINO) keeps the ~Q-G unmatched proposals
  from swamping the few matched ones.  ``b`` is one learnable logit bias initialised to the focal
  prior ``-log((1 - π) / π)`` (π = ``prior_prob``), so that at initialisation every proposal starts
  as "probably nothing" instead of ``σ(cos/τ) ≈ 0.5`` for every class.
* ``'softmax'`` - cross-entropy over ``[s_n1 .. s_nK, β]`` where ``β`` is one learnable background
  logit (a "no object" candidate whose likelihood does not depend on the class list, so open
  vocabulary still works); unmatched proposals take the background label and are down-weighted by
  ``no_object_weight`` (DETR's eos coefficient), the loss is normalised by the sum of the weights.

Prediction: class probabilities (``σ(s + b)`` or the first K softmax columns) are combined with the
proposal objectness ``o = σ(objectness logit)`` by ``score_mode``: ``'class'`` (p),
``'class*objectness'`` (p·o), ``'geometric'`` (sqrt(p·o)); the top ``max_per_img`` (proposal, class) pairs of each image
become ``DetDataSample.pred_instances`` with boxes in original image coordinates and boolean masks at
``ori_shape`` (mmdet's DETR / MaskFormer post-processing: scale by ``img_shape``, clamp, divide by
``scale_factor``; masks upsampled to the padded input, cropped to ``img_shape``, resized to
``ori_shape`` and thresholded), so mmdet ``CocoMetric`` (bbox, segm) and ``DetLocalVisualizer`` work
unchanged.
"""
import math
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.structures import InstanceData
from torch import Tensor

from ...engine.protocols import CollectiveLoss
from ...utils.dist import loss_normaliser
from ..image_tokens import ImageTokens
from ..region_proposal.postprocess import boxes_to_original, mask_logits_to_original
from .base_task import BaseTask, ClassNameCandidates

NO_OBJECT_MODES = ('sigmoid', 'softmax')
SCORE_MODES = ('class', 'class*objectness', 'geometric')


@MODELS.register_module()
class DetectionTask(ClassNameCandidates, BaseTask, CollectiveLoss):
    """Detection + instance segmentation: proposal decoder outputs vs. class names.

    Args:
        class_names (Sequence[str] | str): training class names (index = ``gt_instances.labels``),
            or a file with one name per line.
        test_class_names (Sequence[str] | str, optional): class names used by :meth:`predict`
            (open vocabulary: a subset, synonyms or unseen names; the test dataset's ``classes``
            must list the same names in the same order).  None = ``class_names``.  Can also be
            changed with :meth:`set_class_names` or per call (``predict(..., class_names=...)``).
        prompt (str): format applied to each name (default ``'{}'``).
        no_object (str): ``'sigmoid'`` (focal, all-zero targets for unmatched proposals) or
            ``'softmax'`` (CE with a learnable background logit).  See the module docstring.
        loss_cls (dict, optional): mmdet loss config.  Default: ``FocalLoss(use_sigmoid=True,
            gamma=2, alpha=0.25, loss_weight=2.0)`` for ``'sigmoid'``, ``CrossEntropyLoss(
            use_sigmoid=False, loss_weight=2.0)`` for ``'softmax'``.
        prior_prob (float): focal prior π of the initial logit bias (``'sigmoid'``; default 0.01).
        no_object_weight (float): CE weight of unmatched proposals (``'softmax'``; default 0.1).
        score_mode (str): ``'class'``, ``'class*objectness'`` (default) or ``'geometric'``.
        max_per_img (int): detections kept per image (top-k over proposal x class; default 100).
        with_mask (bool): also output instance masks (default True).
        mask_threshold (float): probability threshold of the masks (default 0.5).
        num_proposals (int, optional): proposals decoded; None (default) = all queries of the
            proposal network (``image_encoder.num_queries``), as the paper does for detection.
        family (str): temperature family (default ``'detection'``).
        sync_cls_avg_factor (bool): average the loss normaliser over ranks as DINO does (default
            True); must be False under mixed sampling on several ranks
            (:func:`~uniperceiver_v2.utils.dist.loss_normaliser` explains why).
        aux_class_loss (bool): [ours], not in the paper.  Also apply the classification loss,
            through the same likelihood, to the proposals as every earlier decoder layer of the
            proposal network gives them (their own query feature, box and mask in Eq. 2, their
            own Hungarian assignment; keys ``d{i}.loss_det_cls``), as DINO supervises its class
            logits on every decoder layer.  Costs one more decoder call over ``L - 1`` times the
            batch.  Needs an image encoder whose ``loss`` takes ``aux_layers``
            (:class:`~uniperceiver_v2.models.ImageEncoder`).  Default False (the final layer
            only).
        **kwargs: :class:`BaseTask` arguments (``use_global``, ``loss_weight``, ``init_cfg``).

    Data samples: mmdet ``DetDataSample`` with metainfo ``img_shape``, ``batch_input_shape``,
    ``ori_shape``, ``scale_factor`` and, for the loss, ``gt_instances`` (``bboxes``, ``labels``,
    ``masks``); predictions are written to ``pred_instances`` (``bboxes (k, 4)`` xyxy in original
    pixels, ``scores (k,)``, ``labels (k,)``, ``masks (k, H_ori, W_ori)`` bool).
    """

    def __init__(self, class_names: Union[str, Sequence[str]],
                 test_class_names: Union[None, str, Sequence[str]] = None,
                 prompt: str = '{}', no_object: str = 'sigmoid',
                 loss_cls: Optional[dict] = None, prior_prob: float = 0.01,
                 no_object_weight: float = 0.1, score_mode: str = 'class*objectness',
                 max_per_img: int = 100, with_mask: bool = True, mask_threshold: float = 0.5,
                 num_proposals: Optional[int] = None, family: str = 'detection',
                 sync_cls_avg_factor: bool = True, aux_class_loss: bool = False, **kwargs):
        if not kwargs.get('use_proposals', True):
            raise ValueError('DetectionTask: use_proposals must be True (detection classifies '
                             'the proposal tokens)')
        super().__init__(family=family, num_proposals=num_proposals, **kwargs)
        self.init_class_names(class_names, test_class_names, prompt)
        if no_object not in NO_OBJECT_MODES:
            raise ValueError(f'DetectionTask.no_object must be one of {NO_OBJECT_MODES}, '
                             f'got {no_object!r}')
        if score_mode not in SCORE_MODES:
            raise ValueError(f'DetectionTask.score_mode must be one of {SCORE_MODES}, '
                             f'got {score_mode!r}')
        if max_per_img < 1:
            raise ValueError(f'DetectionTask.max_per_img must be >= 1, got {max_per_img}')
        if not 0.0 < prior_prob < 1.0:
            raise ValueError(f'DetectionTask.prior_prob must be in (0, 1), got {prior_prob}')
        if not 0.0 < mask_threshold < 1.0:
            raise ValueError(f'DetectionTask.mask_threshold must be in (0, 1), got '
                             f'{mask_threshold}')
        if no_object_weight < 0:
            raise ValueError(f'DetectionTask.no_object_weight must be >= 0, got '
                             f'{no_object_weight}')
        self.no_object = no_object
        if loss_cls is None:
            loss_cls = (dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                             loss_weight=2.0) if no_object == 'sigmoid' else
                        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0))
        self.loss_cls = MODELS.build(loss_cls)
        if getattr(self.loss_cls, 'use_sigmoid', False) != (no_object == 'sigmoid'):
            raise ValueError(f'DetectionTask.loss_cls: no_object={no_object!r} needs a '
                             f"{'sigmoid' if no_object == 'sigmoid' else 'softmax'} loss "
                             f"(use_sigmoid={no_object == 'sigmoid'}), got {loss_cls}")
        self.no_object_weight = no_object_weight
        if no_object == 'sigmoid':
            # one learnable bias b: p = σ(cos/τ + b), initialised to the focal prior
            self.logit_bias = nn.Parameter(torch.tensor(-math.log((1 - prior_prob) / prior_prob)))
        else:
            # one learnable "no object" logit β appended to the class logits
            self.background_logit = nn.Parameter(torch.zeros(()))
        self.sync_cls_avg_factor = sync_cls_avg_factor
        self.aux_class_loss = aux_class_loss
        self.score_mode = score_mode
        self.max_per_img = max_per_img
        self.with_mask = with_mask
        self.mask_threshold = mask_threshold

    def collectives_in_loss(self) -> List[str]:
        """Config keys that make :meth:`loss` enter a cross-rank collective."""
        return ['sync_cls_avg_factor'] if self.sync_cls_avg_factor else []

    # ------------------------------------------------------------------ likelihood
    def proposal_count(self, model) -> Optional[int]:
        """Proposals decoded: ``num_proposals`` or all queries of the proposal network."""
        if self.num_proposals is not None:
            return self.num_proposals
        return getattr(model.image_encoder, 'num_queries', None)

    def encode(self, model, inputs: Tensor, data_samples: Optional[list],
               with_loss: bool) -> Tuple[ImageTokens, Dict[str, Tensor]]:
        """Image tokens of all proposals (and the proposal-network losses with ``with_loss``)."""
        if model.image_encoder is None:
            raise ValueError('DetectionTask: the model has no image_encoder '
                             '(config key model.image_encoder)')
        num = self.proposal_count(model)
        if with_loss:
            aux = dict(aux_layers=True) if self.aux_class_loss else {}
            return model.image_encoder.loss(inputs, data_samples, num_proposals=num, **aux)
        return model.image_encoder(inputs, data_samples, num_proposals=num), {}

    def proposal_outputs(self, model, image_tokens: ImageTokens) -> Tensor:
        """Decoder outputs of the proposal tokens, all images in one decoder call.

        Args:
            model: the UniPerceiverV2 model.
            image_tokens (ImageTokens): ``N`` proposals, ``G`` global tokens per image.

        Returns:
            Tensor: ``(B, N, C)``, from ``g([<SPE>, global, proposals])[:, 1 + G:]``.
        """
        decoded = self.decode_image(model, image_tokens)
        return decoded[:, decoded.shape[1] - image_tokens.proposal_tokens.shape[1]:]

    def class_logits(self, model, x: Tensor, y: Tensor) -> Tensor:
        """Logits of the classification loss.

        Args:
            x (Tensor): ``(B, N, C)`` proposal decoder outputs.
            y (Tensor): ``(K, C)`` class-name embeddings.

        Returns:
            Tensor: ``(B, N, K)`` ``cos/τ + b`` (``'sigmoid'``) or ``(B, N, K + 1)``
            ``[cos/τ, β]`` (``'softmax'``).
        """
        logits = model.likelihood_head(x, y, self.family)
        if self.no_object == 'sigmoid':
            return logits + self.logit_bias
        return torch.cat([logits, self.background_logit.to(logits.dtype).expand(
            *logits.shape[:-1], 1)], dim=-1)

    def class_probabilities(self, logits: Tensor) -> Tensor:
        """``(B, N, K)`` class probabilities from :meth:`class_logits`."""
        if self.no_object == 'sigmoid':
            return logits.sigmoid()
        return logits.softmax(-1)[..., :-1]

    # ------------------------------------------------------------------ loss
    def proposal_targets(self, image_tokens: ImageTokens, data_samples: list,
                         num_classes: int) -> Tensor:
        """Class target of every proposal from the proposal network's Hungarian assignment.

        Returns:
            Tensor: ``(B, N)`` long, the matched gt label, ``num_classes`` for "no object".
        """
        gt_index = image_tokens.proposal_gt_index
        if gt_index is None:
            raise ValueError('DetectionTask: ImageTokens.proposal_gt_index is None; the image '
                             'encoder (model.image_encoder) must fill it in loss()')
        targets = torch.full_like(gt_index, num_classes)
        for i, sample in enumerate(data_samples):
            if 'gt_instances' not in sample:
                raise KeyError('DetectionTask: data sample has no `gt_instances` (needed for '
                               'the loss)')
            labels = sample.gt_instances.labels.to(gt_index.device).long()
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
                raise ValueError(f'DetectionTask: gt label out of range for {num_classes} '
                                 'class names (config key class_names)')
            matched = gt_index[i] >= 0
            if bool(matched.any()):
                if int(gt_index[i].max()) >= labels.numel():
                    raise ValueError('DetectionTask: proposal_gt_index points past the '
                                     f'{labels.numel()} gt instances of image {i}')
                targets[i, matched] = labels[gt_index[i, matched]]
        return targets

    def classification_loss(self, logits: Tensor, targets: Tensor,
                            valid: Tensor) -> Tensor:
        """Loss of the matched / unmatched proposals.

        Args:
            logits (Tensor): ``(B, N, K)`` or ``(B, N, K + 1)`` (see :meth:`class_logits`).
            targets (Tensor): ``(B, N)`` label, ``K`` = no object.
            valid (Tensor): ``(B, N)`` bool, False for padded proposals (weight 0).

        Returns:
            Tensor: scalar.  ``'sigmoid'``: ``FocalLoss`` summed over proposals and classes
            divided by the number of matched proposals (>= 1, averaged over ranks with
            ``sync_cls_avg_factor``).
            ``'softmax'``: CE weighted 1 (matched) / ``no_object_weight`` (unmatched), divided
            by the sum of the weights.
        """
        num_classes = logits.shape[-1] - (0 if self.no_object == 'sigmoid' else 1)
        flat_logits = logits.reshape(-1, logits.shape[-1]).float()
        flat_targets = targets.reshape(-1)
        valid = valid.reshape(-1).float()
        positive = (flat_targets < num_classes).float() * valid
        if self.no_object == 'sigmoid':
            num_pos = loss_normaliser(positive.sum(), self.sync_cls_avg_factor).clamp(min=1.0)
            return self.loss_cls(flat_logits, flat_targets, weight=valid, avg_factor=num_pos)
        weight = positive + (1 - positive) * self.no_object_weight * valid
        avg = loss_normaliser(weight.sum(), self.sync_cls_avg_factor).clamp(min=1e-6)
        return self.loss_cls(flat_logits, flat_targets, weight=weight, avg_factor=avg)

    def loss(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """Classification loss on the proposal network's assignment + the proposal losses.

        Returns:
            dict: ``loss_det_cls``, ``det_acc`` (accuracy of the matched proposals) and the
            ``proposal.*`` losses of the image encoder, all multiplied by ``loss_weight``.
        """
        image_tokens, losses = self.encode(model, inputs, data_samples, with_loss=True)
        x = self.proposal_outputs(model, image_tokens)
        y = self.class_name_embeddings(model, self.prompts(training=True))
        logits = self.class_logits(model, x, y)
        targets = self.proposal_targets(image_tokens, data_samples, y.shape[0])
        valid = ~image_tokens.proposal_padding_mask
        losses = dict(losses)
        losses['loss_det_cls'] = self.classification_loss(logits, targets, valid)
        if self.aux_class_loss:
            losses.update(self.aux_classification_losses(model, image_tokens, data_samples, y))
        with torch.no_grad():
            matched = (targets < y.shape[0]) & valid
            pred = logits[..., :y.shape[0]].argmax(-1)
            losses['det_acc'] = ((pred == targets) & matched).sum().float() / matched.sum().clamp(
                min=1)
        return self.weighted(losses)

    def aux_classification_losses(self, model, image_tokens: ImageTokens, data_samples: list,
                                  y: Tensor) -> Dict[str, Tensor]:
        """``d{i}.loss_det_cls``: the classification loss of every earlier proposal-network
        decoder layer's tokens (``aux_class_loss``), all layers in one decoder call.

        Args:
            model: the UniPerceiverV2 model.
            image_tokens (ImageTokens): with ``aux_proposal_tokens (B, L-1, N, C)`` and
                ``aux_proposal_gt_index (B, L-1, N)``.
            data_samples (list): the batch's samples (``gt_instances``).
            y (Tensor): ``(K, C)`` class-name embeddings.
        """
        aux = image_tokens.aux_proposal_tokens
        if aux is None or image_tokens.aux_proposal_gt_index is None:
            raise ValueError('DetectionTask.aux_class_loss: the image encoder '
                             '(model.image_encoder) gave no aux_proposal_tokens; it needs '
                             'loss(..., aux_layers=True) and a proposal network with more '
                             'than one decoder layer')
        num_aux = aux.shape[1]

        def tile(x: Tensor) -> Tensor:    # (B, ...) -> (L-1 * B, ...), layer-major
            return x.repeat(num_aux, *([1] * (x.dim() - 1)))

        layer_major = replace(
            image_tokens, global_tokens=tile(image_tokens.global_tokens),
            global_padding_mask=tile(image_tokens.global_padding_mask),
            proposal_tokens=aux.transpose(0, 1).flatten(0, 1),
            proposal_padding_mask=tile(image_tokens.proposal_padding_mask),
            proposal_gt_index=image_tokens.aux_proposal_gt_index.transpose(0, 1).flatten(0, 1),
            aux_proposal_tokens=None, aux_proposal_gt_index=None)
        logits = self.class_logits(model, self.proposal_outputs(model, layer_major), y)
        targets = self.proposal_targets(layer_major, list(data_samples) * num_aux, y.shape[0])
        valid = ~layer_major.proposal_padding_mask
        batch = image_tokens.batch_size
        return {f'd{i}.loss_det_cls': self.classification_loss(
            logits[i * batch:(i + 1) * batch], targets[i * batch:(i + 1) * batch],
            valid[i * batch:(i + 1) * batch]) for i in range(num_aux)}

    # ------------------------------------------------------------------ predict
    def scores(self, class_probs: Tensor, image_tokens: ImageTokens) -> Tensor:
        """``(B, N, K)`` detection scores from the class probabilities by ``score_mode``."""
        if self.score_mode == 'class':
            scores = class_probs
        else:
            objectness = image_tokens.proposal_objectness.sigmoid()[..., None]
            scores = class_probs * objectness
            if self.score_mode == 'geometric':
                scores = scores.clamp(min=0).sqrt()
        return scores.masked_fill(image_tokens.proposal_padding_mask[..., None], 0.0)

    def postprocess(self, scores: Tensor, image_tokens: ImageTokens,
                    batch_img_metas: List[dict]) -> List[InstanceData]:
        """Top-k (proposal, class) pairs of each image, in original image coordinates.

        Args:
            scores (Tensor): ``(B, N, K)`` detection scores.
            image_tokens (ImageTokens): boxes (normalised cxcywh w.r.t. ``img_shape``) and mask
                logits (over the padded batch) of the N proposals.
            batch_img_metas (list[dict]): ``img_shape``, ``batch_input_shape``, ``ori_shape``,
                ``scale_factor`` (w, h) per image.

        Returns:
            list[InstanceData]: ``bboxes (k, 4)``, ``scores (k,)``, ``labels (k,)`` and with
            ``with_mask`` ``masks (k, H_ori, W_ori)`` bool.
        """
        for key in ('img_shape', 'ori_shape', 'batch_input_shape'):
            if any(key not in meta for meta in batch_img_metas):
                raise KeyError(f'DetectionTask: every data sample needs metainfo `{key}` '
                               '(keep it in PackDetInputs.meta_keys)')
        B, N, K = scores.shape
        k = min(self.max_per_img, N * K)
        top_scores, top_index = scores.reshape(B, -1).topk(k, dim=1)
        proposal_index, labels = top_index // K, top_index % K
        results = []
        for i, meta in enumerate(batch_img_metas):
            boxes = boxes_to_original(image_tokens.proposal_boxes[i, proposal_index[i]], meta,
                                      'DetectionTask')
            result = InstanceData(bboxes=boxes, scores=top_scores[i], labels=labels[i])
            if self.with_mask:
                result.masks = self.masks_to_original(
                    image_tokens.proposal_mask_logits[i, proposal_index[i]], meta)
            results.append(result)
        return results

    def masks_to_original(self, mask_logits: Tensor, meta: dict) -> Tensor:
        """Mask logits over the padded batch -> boolean ``(k, H_ori, W_ori)`` masks
        (:func:`~uniperceiver_v2.models.region_proposal.postprocess.mask_logits_to_original`,
        thresholded at ``mask_threshold``)."""
        return mask_logits_to_original(mask_logits, meta).sigmoid() > self.mask_threshold

    def predict(self, model, inputs: Tensor, data_samples: list,
                class_names: Union[None, str, Sequence[str]] = None) -> list:
        """Detect (and segment) with the current or the given class names.

        Args:
            model: the UniPerceiverV2 model.
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[DetDataSample]): with the metainfo listed in the class docstring.
            class_names (Sequence[str] | str, optional): names for this call only.

        Returns:
            list[DetDataSample]: ``data_samples`` with ``pred_instances``.
        """
        if data_samples is None:
            raise ValueError('DetectionTask.predict needs data_samples with image metainfo')
        image_tokens, _ = self.encode(model, inputs, data_samples, with_loss=False)
        x = self.proposal_outputs(model, image_tokens)
        y = self.class_name_embeddings(model, self.prompts(class_names))
        probs = self.class_probabilities(self.class_logits(model, x, y))
        results = self.postprocess(self.scores(probs, image_tokens), image_tokens,
                                   [s.metainfo for s in data_samples])
        for sample, result in zip(data_samples, results):
            sample.pred_instances = result
        return data_samples

    def tensor(self, model, inputs: Tensor, data_samples: Optional[list]) -> Dict[str, Tensor]:
        """Raw outputs: ``logits`` (see :meth:`class_logits`), ``boxes (B, N, 4)`` normalised
        cxcywh, ``objectness (B, N)`` logits."""
        image_tokens, _ = self.encode(model, inputs, data_samples, with_loss=False)
        x = self.proposal_outputs(model, image_tokens)
        y = self.class_name_embeddings(model, self.prompts())
        return dict(logits=self.class_logits(model, x, y), boxes=image_tokens.proposal_boxes,
                    objectness=image_tokens.proposal_objectness)
