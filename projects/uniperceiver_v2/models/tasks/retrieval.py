"""Image-text retrieval as likelihood between the two modalities (paper Eq. 1, §4).

x = [<SPE>, image tokens], y = [<SPE>, caption]; the candidate set is the other modality in the batch,
all-gathered across GPUs with gradient when ``gather_features`` (paper: "gather feature").  Loss is
the symmetric CE with label smoothing [v1-code]:

    L = ½ [CE_ls(S, I) + CE_ls(Sᵀ, I)],   S_ij = cos(img_i, txt_j) / τ,  targets i = rank·B + i.

Prediction follows mmpretrain's retrieval contract (``BlipRetrieval``): ``tensor`` mode returns
``dict(image_feat, text_feat)``, ``predict_all`` returns ``(i2t, t2i)`` data samples with
``pred_score`` over all candidates and ``gt_label`` from ``gt_text_id`` / ``gt_image_id``, which
``RetrievalRecall`` scores (mmpretrain ``RetrievalValLoop``).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.dist import all_gather, get_rank
from torch import Tensor

from ...engine.protocols import CollectiveLoss
from ...utils.dist import all_gather_with_grad
from .base_task import BaseTask, texts_of

#: where retrieval texts come from (for the missing-field error)
TEXT_SOURCE = "RetrievalTask: mmpretrain COCORetrieval / PackInputs algorithm_keys=['text']"


@MODELS.register_module()
class RetrievalTask(BaseTask, CollectiveLoss):
    """Image-text retrieval in both directions.

    Args:
        gather_features (bool): all-gather features across ranks for in-batch negatives
            (default True).
        label_smoothing (float): default 0.1 [v1-code].
        family (str): temperature family (default ``'retrieval'``).
        **kwargs: :class:`BaseTask` arguments.
    """

    def __init__(self, gather_features: bool = True, label_smoothing: float = 0.1,
                 family: str = 'retrieval', **kwargs):
        super().__init__(family=family, **kwargs)
        self.gather_features = gather_features
        self.label_smoothing = label_smoothing

    def collectives_in_loss(self) -> List[str]:
        """Config keys that make :meth:`loss` enter a cross-rank collective (``gather_features``).

        Gathering needs every rank in this task (unmixed sampling, paper §4); under
        ``train_cfg.sampling='mixed'`` ``MultiTaskTrainLoop`` refuses these on several ranks.
        """
        return ['gather_features'] if self.gather_features else []

    def image_features(self, model, inputs: Tensor, data_samples: Optional[list]) -> Tensor:
        """``(B, C)`` <SPE> outputs of the images."""
        tokens, _ = self.encode_image(model, inputs, data_samples)
        return self.decode_image(model, tokens)[:, 0]

    def text_features(self, model, texts: List[str]) -> Tensor:
        """``(M, C)`` <SPE> outputs of the captions."""
        return self.encode_texts(model, texts, 'retrieval_text')

    def retrieval_loss(self, model, img: Tensor, txt: Tensor) -> Dict[str, Tensor]:
        """Symmetric label-smoothed CE over (gathered) in-batch negatives.

        Args:
            img (Tensor): ``(B, C)`` local image features.
            txt (Tensor): ``(B, C)`` local text features (text i describes image i).
        """
        B = img.shape[0]
        if self.gather_features:
            img_all, txt_all = all_gather_with_grad(img), all_gather_with_grad(txt)
        else:
            img_all, txt_all = img, txt
        offset = get_rank() * B if img_all.shape[0] > B else 0
        targets = torch.arange(B, device=img.device) + offset
        logits_i2t = model.likelihood_head(img, txt_all, self.family)
        logits_t2i = model.likelihood_head(txt, img_all, self.family)
        loss = 0.5 * (F.cross_entropy(logits_i2t, targets, label_smoothing=self.label_smoothing)
                      + F.cross_entropy(logits_t2i, targets, label_smoothing=self.label_smoothing))
        with torch.no_grad():
            acc = (logits_i2t.argmax(1) == targets).float().mean()
        return dict(loss_retrieval=loss, acc_i2t=acc)

    def loss(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        texts = texts_of(data_samples, 'text', True, TEXT_SOURCE)
        img = self.image_features(model, inputs, data_samples)
        txt = self.text_features(model, texts)
        return self.weighted(self.retrieval_loss(model, img, txt))

    def tensor(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """``dict(image_feat=(B, C), text_feat=(M, C))`` (M = all captions of the batch)."""
        texts = texts_of(data_samples, 'text', False, TEXT_SOURCE)
        return dict(image_feat=self.image_features(model, inputs, data_samples),
                    text_feat=self.text_features(model, texts))

    def predict(self, model, inputs: Tensor, data_samples: list) -> list:
        """Embed each image and its captions for evaluation over the whole set.

        Ranking needs every image and caption of the evaluation set, so a batch only embeds: each
        sample gets ``image_embedding`` ``(C,)`` and ``text_embeddings`` ``(T, C)`` (its own
        captions), the contract of :class:`BidirectionalRetrievalRecall`, which ranks all of them
        after collecting every rank's results.  (mmpretrain's ``RetrievalValLoop`` instead uses
        ``tensor`` + :meth:`predict_all`.)
        """
        feats = self.tensor(model, inputs, data_samples)
        image_feat, text_feat = feats['image_feat'], feats['text_feat']
        start = 0
        for ds, img in zip(data_samples, image_feat):
            num = len(ds.text) if isinstance(ds.text, (list, tuple)) else 1
            ds.image_embedding = img
            ds.text_embeddings = text_feat[start:start + num]
            start += num
        return data_samples

    def predict_all(self, model, feats: Dict[str, Tensor], data_samples: list,
                    num_images: Optional[int] = None, num_texts: Optional[int] = None,
                    cal_i2t: bool = True, cal_t2i: bool = True) -> tuple:
        """Score every local query against all (gathered) candidates.

        Args:
            feats (dict): ``image_feat`` ``(B, C)`` and ``text_feat`` ``(M, C)`` of this rank.
            data_samples (list): the image samples (with ``gt_text_id`` / ``gt_image_id``).
            num_images, num_texts (int, optional): dataset sizes (drop distributed padding).

        Returns:
            tuple: i2t samples (one per image) and t2i samples (one per caption).
        """
        img, txt = feats['image_feat'], feats['text_feat']
        img_all = torch.cat(all_gather(img))[:num_images or None]
        txt_all = torch.cat(all_gather(txt))[:num_texts or None]
        results = []
        if cal_i2t:
            results.append(self._predictions(model.likelihood_head(img, txt_all, self.family),
                                             data_samples, 'i2t'))
        if cal_t2i:
            results.append(self._predictions(model.likelihood_head(txt, img_all, self.family),
                                             data_samples, 't2i'))
        return tuple(results)

    @staticmethod
    def _predictions(scores: Tensor, data_samples: list, mode: str) -> list:
        """mmpretrain's retrieval output format (as ``BlipRetrieval._get_predictions``)."""
        from mmpretrain.structures import DataSample
        if mode == 't2i':
            samples = []
            for ds in data_samples:
                texts = ds.text if isinstance(ds.text, (list, tuple)) else [ds.text]
                for i, text in enumerate(texts):
                    s = DataSample(text=text)
                    if 'gt_image_id' in ds:
                        s.gt_label = ds.gt_image_id[i]
                    samples.append(s)
        else:
            samples = data_samples
            for ds in samples:
                if 'gt_text_id' in ds:
                    ds.gt_label = ds.gt_text_id
        if len(samples) != scores.shape[0]:
            raise ValueError(f'RetrievalTask: {scores.shape[0]} {mode} queries but '
                             f'{len(samples)} data samples')
        for ds, s in zip(samples, scores):
            ds.set_pred_score(s).set_pred_label(s.argmax(keepdim=True))
        return samples
