"""Image classification as likelihood over class names (paper Eq. 1).

x = [<SPE>, image tokens], Y = the class names encoded by the same text path and decoder;
logits = cos(g(x)_SPE, g(y)_SPE) / τ and CE against the label.  Class names are data: passing other
names at test time classifies into those classes without retraining (zero-shot).
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from .base_task import BaseTask, ClassNameCandidates


@MODELS.register_module()
class ClassificationTask(ClassNameCandidates, BaseTask):
    """Classification by the unified likelihood.

    Args:
        class_names (Sequence[str] | str): the training class names (index = ``gt_label``), or a
            file with one per line.
        test_class_names (Sequence[str] | str, optional): class names used by :meth:`predict`
            (zero-shot: other names, same weights).  None = ``class_names``.  Can also be changed
            with :meth:`set_class_names` or per call (``predict(..., class_names=...)``); the
            training names are never replaced.
        prompt (str): format string applied to each name, e.g. ``'a photo of a {}.'`` (default
            ``'{}'``).
        label_smoothing (float): CE label smoothing (default 0).
        candidates (dict, optional): how the class names enter a training step
            (:class:`~uniperceiver_v2.models.candidate_targets.CandidateTargets`: ``mode``
            ``'exact'`` / ``'sampled'`` / ``'cached'``, ``shard``, ``num_samples``,
            ``refresh_interval``).  None = every name with gradient at every step (the paper).
        family (str): temperature family (default ``'classification'``).
        **kwargs: :class:`BaseTask` arguments (``use_global``, ``use_proposals``,
            ``num_proposals``, ``loss_weight``).

    Data samples: mmpretrain ``DataSample`` with ``gt_label``; predictions set ``pred_score``
    ``(K,)`` (softmax of the logits) and ``pred_label``, so mmpretrain ``Accuracy`` scores them.
    """

    def __init__(self, class_names: Union[str, Sequence[str]],
                 test_class_names: Union[None, str, Sequence[str]] = None, prompt: str = '{}',
                 label_smoothing: float = 0.0, candidates: Optional[dict] = None,
                 family: str = 'classification', **kwargs):
        super().__init__(family=family, **kwargs)
        self.init_class_names(class_names, test_class_names, prompt)
        self.configure_candidates(candidates)
        self.label_smoothing = label_smoothing

    def logits(self, model, inputs: Tensor, data_samples: Optional[list],
               class_names: Optional[Sequence[str]] = None) -> Tensor:
        """``(B, K)`` logits cos(image, class name) / τ."""
        image_tokens, _ = self.encode_image(model, inputs, data_samples)
        x = self.decode_image(model, image_tokens)[:, 0]
        y = self.class_name_embeddings(model, self.prompts(class_names))
        return model.likelihood_head(x, y, self.family)

    def loss(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """CE over the class-name logits (the proposal network is trained by detection)."""
        image_tokens, _ = self.encode_image(model, inputs, data_samples)
        x = self.decode_image(model, image_tokens)[:, 0]
        labels = torch.cat([ds.gt_label.view(-1)[:1] for ds in data_samples]).to(x.device)
        if int(labels.max()) >= len(self.class_names) or int(labels.min()) < 0:
            raise ValueError(f'ClassificationTask: gt_label out of range for '
                             f'{len(self.class_names)} class names')
        cands = self.class_name_candidates(model, self.prompts(training=True), labels)
        logits = cands.adjust(model.likelihood_head(x, cands.embeddings, self.family))
        rows = cands.rows(labels)
        losses = dict()
        losses['loss_cls'] = F.cross_entropy(logits, rows, label_smoothing=self.label_smoothing)
        with torch.no_grad():
            losses['acc_cls'] = (logits.argmax(1) == rows).float().mean()
        return self.weighted(losses)

    def predict(self, model, inputs: Tensor, data_samples: Optional[list],
                class_names: Optional[Sequence[str]] = None) -> list:
        """Write ``pred_score`` / ``pred_label`` (zero-shot with ``class_names``)."""
        from mmpretrain.structures import DataSample
        probs = self.logits(model, inputs, data_samples, class_names).softmax(-1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(probs.shape[0])]
        for ds, p in zip(data_samples, probs):
            ds.set_pred_score(p).set_pred_label(p.argmax(keepdim=True))
        return data_samples

    def tensor(self, model, inputs: Tensor, data_samples: Optional[list]) -> Tensor:
        """``(B, K)`` logits."""
        return self.logits(model, inputs, data_samples)
