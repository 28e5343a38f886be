"""Semantic segmentation from the region proposals and their class likelihoods (no new head).

The proposals are those detection classifies, their class likelihood is detection's
(``cos(g(f(x))_n, g(f(y_k))) / τ`` against the class names, with a learnable "no object" logit β
appended), and a pixel's class comes from Mask2Former's semantic inference
(``MaskFormerFusionHead.semantic_postprocess``)::

    p_nk  = softmax_k([s_n1 .. s_nK, β])_k               (the no-object column dropped)
    S_k(p) = Σ_n p_nk · σ(m_n(p))                        (m_n: proposal n's mask logits)
    ŷ(p)  = argmax_k S_k(p)

Training [ours]: the pixel-wise negative log-likelihood of the normalised map,
``-log(S_y(p) / Σ_k S_k(p))`` averaged over the labelled pixels (255 = ignored), i.e. the loss of
exactly what inference computes.  Masks are detached by default: the proposal network (boxes,
masks) is trained by detection on instances; this task trains the class likelihood only.

Data: an mmseg dataset (``BaseSegDataset`` layouts: ADE20K, COCO-Stuff, the synthetic scenes)
with mmseg's pipeline; predictions ``pred_sem_seg`` / ``seg_logits`` (``SegDataSample``) scored by
mmseg ``IoUMetric``.
"""
from typing import Dict, Sequence, Union

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.structures import PixelData
from torch import Tensor

from ..image_tokens import ImageTokens
from ..region_proposal.postprocess import mask_logits_to_original
from .base_task import BaseTask, ClassNameCandidates


@MODELS.register_module()
class SemanticSegmentationTask(ClassNameCandidates, BaseTask):
    """Per-pixel classes from the proposals' masks and class likelihoods (Mask2Former inference).

    Args:
        class_names (Sequence[str] | str): training names (index = label value in the maps), or
            a file with one per line.
        test_class_names (Sequence[str] | str, optional): names scored by :meth:`predict`
            (open vocabulary); None = ``class_names``.
        prompt (str): format applied to each name (default ``'{}'``).
        ignore_index (int): label of unlabelled pixels (default 255, mmseg's).
        detach_masks (bool): no gradient into the proposal masks (default True).
        eps (float): added to ``Σ_k S_k`` before normalising (default 1e-6).
        family (str): temperature family (default ``'detection'``: the same class likelihood).
        **kwargs: :class:`BaseTask` arguments (``num_proposals``: proposals decoded, default
            all queries of the proposal network).
    """

    def __init__(self, class_names: Union[str, Sequence[str]],
                 test_class_names: Union[None, str, Sequence[str]] = None, prompt: str = '{}',
                 ignore_index: int = 255, detach_masks: bool = True, eps: float = 1e-6,
                 family: str = 'detection', **kwargs):
        if not kwargs.get('use_proposals', True):
            raise ValueError('SemanticSegmentationTask: use_proposals must be True (pixels are '
                             'classified through the proposals)')
        super().__init__(family=family, **kwargs)
        self.init_class_names(class_names, test_class_names, prompt)
        self.ignore_index = ignore_index
        self.detach_masks = detach_masks
        self.eps = eps
        self.background_logit = nn.Parameter(torch.zeros(()))

    # ------------------------------------------------------------------ likelihood
    def encode(self, model, inputs: Tensor, data_samples: list) -> ImageTokens:
        """Image tokens of ``num_proposals`` proposals (default all queries, as detection)."""
        num = self.num_proposals
        if num is None and model.image_encoder is not None:
            num = getattr(model.image_encoder, 'num_queries', None)
        if model.image_encoder is None:
            raise ValueError('SemanticSegmentationTask: the model has no image_encoder '
                             '(config key model.image_encoder)')
        return model.image_encoder(inputs, data_samples, num_proposals=num)

    def class_probabilities(self, model, image_tokens: ImageTokens,
                            class_names: Sequence[str]) -> Tensor:
        """``(B, N, K)`` ``p_nk``: softmax over ``[cos/τ, β]`` with the no-object column
        dropped; padded proposals 0."""
        x = self.decode_proposals(model, image_tokens)
        y = self.class_name_embeddings(model, class_names)
        logits = model.likelihood_head(x, y, self.family)
        logits = torch.cat([logits, self.background_logit.to(logits.dtype).expand(
            *logits.shape[:-1], 1)], dim=-1)
        probs = logits.softmax(-1)[..., :-1]
        return probs.masked_fill(image_tokens.proposal_padding_mask[..., None], 0.0)

    def semantic_scores(self, class_probs: Tensor, mask_logits: Tensor) -> Tensor:
        """``S_k(p) = Σ_n p_nk σ(m_n(p))`` (Mask2Former's ``semantic_postprocess``).

        Args:
            class_probs (Tensor): ``(..., N, K)``.
            mask_logits (Tensor): ``(..., N, H, W)`` (already at the output resolution:
                Mask2Former upsamples the logits, then applies the sigmoid).

        Returns:
            Tensor: ``(..., K, H, W)``.
        """
        if self.detach_masks:
            mask_logits = mask_logits.detach()
        return torch.einsum('...nk,...nhw->...khw', class_probs, mask_logits.float().sigmoid())

    def image_scores(self, class_probs: Tensor, mask_logits: Tensor, meta: dict,
                     rescale: bool) -> Tensor:
        """``(K, H, W)`` scores of one image: its proposals' mask logits brought to the image
        (``ori_shape`` with ``rescale``, else ``img_shape``), then :meth:`semantic_scores`.

        Args:
            class_probs (Tensor): ``(N, K)``.
            mask_logits (Tensor): ``(N, h, w)`` over the padded batch.
            meta (dict): image metainfo (``batch_input_shape``, ``img_shape``, ``ori_shape``).
        """
        return self.semantic_scores(class_probs,
                                    mask_logits_to_original(mask_logits, meta, rescale=rescale))

    # ------------------------------------------------------------------ loss
    def pixel_loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        """``-log(S_y / Σ_k S_k)`` averaged over the pixels whose label is not ``ignore_index``.

        Args:
            scores (Tensor): ``(K, H, W)`` semantic scores of one image.
            labels (Tensor): ``(H, W)`` long labels.

        Returns:
            Tensor: ``(2,)`` the summed loss and the number of labelled pixels.
        """
        valid = labels != self.ignore_index
        if bool(valid.any()) and int(labels[valid].max()) >= scores.shape[0]:
            raise ValueError(f'SemanticSegmentationTask: label {int(labels[valid].max())} out '
                             f'of range for {scores.shape[0]} class names (config key '
                             'class_names; unlabelled pixels must be ignore_index)')
        log_p = (scores + self.eps / scores.shape[0]).log() - (scores.sum(0) + self.eps).log()
        nll = -log_p.gather(0, labels.clamp(min=0, max=scores.shape[0] - 1)[None])[0]
        return torch.stack([(nll * valid).sum(), valid.sum().to(nll.dtype)])

    def loss(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """Pixel-wise NLL of the normalised Mask2Former semantic map.

        Returns:
            dict: ``loss_semseg`` and ``semseg_acc`` (pixel accuracy of the labelled pixels),
            multiplied by ``loss_weight``.
        """
        image_tokens = self.encode(model, inputs, data_samples)
        probs = self.class_probabilities(model, image_tokens, self.prompts(training=True))
        totals, correct = [], probs.new_zeros(())
        for i, sample in enumerate(data_samples):
            if 'gt_sem_seg' not in sample:
                raise KeyError('SemanticSegmentationTask: data sample has no `gt_sem_seg` '
                               '(mmseg LoadAnnotations + PackSegInputs)')
            labels = sample.gt_sem_seg.data[0].to(probs.device).long()
            scores = self.image_scores(probs[i], image_tokens.proposal_mask_logits[i],
                                       sample.metainfo, rescale=False)
            if scores.shape[1:] != labels.shape:
                raise ValueError(f'SemanticSegmentationTask: gt_sem_seg {tuple(labels.shape)} '
                                 f'does not match img_shape {tuple(scores.shape[1:])} (load '
                                 'the annotations before Resize in the training pipeline)')
            totals.append(self.pixel_loss(scores, labels))
            with torch.no_grad():
                valid = labels != self.ignore_index
                correct = correct + ((scores.argmax(0) == labels) & valid).sum()
        total = torch.stack(totals).sum(0)
        count = total[1].clamp(min=1)
        losses = dict(loss_semseg=total[0] / count, semseg_acc=correct.float() / count)
        return self.weighted(losses)

    # ------------------------------------------------------------------ predict
    def predict(self, model, inputs: Tensor, data_samples: list,
                class_names: Union[None, str, Sequence[str]] = None) -> list:
        """Semantic maps with the current or the given class names.

        Returns:
            list: ``data_samples`` (mmseg ``SegDataSample``) with ``seg_logits`` ``(K, H, W)``
            (the scores S) and ``pred_sem_seg`` ``(1, H, W)`` at ``ori_shape``.
        """
        if data_samples is None:
            raise ValueError('SemanticSegmentationTask.predict needs data_samples with image '
                             'metainfo')
        image_tokens = self.encode(model, inputs, data_samples)
        probs = self.class_probabilities(model, image_tokens, self.prompts(class_names))
        for i, sample in enumerate(data_samples):
            maps = self.image_scores(probs[i], image_tokens.proposal_mask_logits[i],
                                     sample.metainfo, rescale=True)
            sample.seg_logits = PixelData(data=maps)
            sample.pred_sem_seg = PixelData(data=maps.argmax(0, keepdim=True))
        return data_samples

    def tensor(self, model, inputs: Tensor, data_samples: list) -> Tensor:
        """``(B, K, h, w)`` semantic scores over the padded batch (mask resolution)."""
        image_tokens = self.encode(model, inputs, data_samples)
        probs = self.class_probabilities(model, image_tokens, self.prompts())
        return self.semantic_scores(probs, image_tokens.proposal_mask_logits)
