"""Masked language modelling through the unified likelihood (paper Eq. 1; Base / Large configs).

x = [<SPE>, f_text(masked text)], Y = the vocabulary (``g([<SPE>, e_w])_SPE``); at each masked
position, logits = cos(g(x)_i, g(y)) / τ and CE against the original token.  Masking follows BERT:
``mask_prob`` of the non-special tokens are chosen; of those 80 % become the mask token, 10 % a
random vocabulary token, 10 % stay unchanged.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from ..attributes import TokenKind
from .base_task import BaseTask


@MODELS.register_module()
class LanguageModelingTask(BaseTask):
    """Masked language modelling on a plain text corpus.

    Args:
        vocabulary (None | str | Sequence[int]): target token ids (see ``load_vocabulary``);
            None = the full tokenizer vocabulary.
        mask_prob (float): fraction of tokens chosen for prediction (default 0.15).
        candidates (dict, optional): how the vocabulary enters a training step
            (:class:`~uniperceiver_v2.models.candidate_targets.CandidateTargets`: ``mode``
            ``'exact'`` / ``'sampled'`` / ``'cached'``, ``shard``, ``num_samples``,
            ``refresh_interval``).  None = every entry with gradient at every step (the paper).
        family (str): temperature family (default ``'mlm'``).
        **kwargs: :class:`BaseTask` arguments (``loss_weight``).

    Data samples: mmpretrain ``DataSample`` with ``text`` (``TextCorpusDataset`` +
    ``PackInputs(algorithm_keys=['text'])``); no images.
    """

    def __init__(self, vocabulary: Union[None, str, Sequence[int]] = None, mask_prob: float = 0.15,
                 candidates: Optional[dict] = None, family: str = 'mlm', **kwargs):
        super().__init__(family=family, **kwargs)
        self.configure_candidates(candidates)
        if not 0 < mask_prob < 1:
            raise ValueError(f'LanguageModelingTask.mask_prob must be in (0, 1), got {mask_prob}')
        self.vocabulary_cfg, self.mask_prob = vocabulary, mask_prob

    def vocabulary(self, model) -> Tuple[Tensor, Tensor]:
        """``(V,)`` target ids and the id -> target index map (-100 outside the vocabulary)."""
        return self.vocabulary_lookup(model, self.vocabulary_cfg, 'LanguageModelingTask.vocabulary')

    def mask_tokens(self, model, ids: Tensor, att: Tensor,
                    generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """BERT masking of the non-special tokens that are in the vocabulary.

        Returns:
            tuple[Tensor, Tensor]: masked ``(B, L)`` ids and ``(B, L)`` bool chosen positions.
        """
        vocab_ids, lut = self.vocabulary(model)
        tok = model.text_encoder.tokenizer
        is_special = torch.isin(ids, torch.tensor(tok.all_special_ids, device=ids.device))
        cand = att.bool() & ~is_special & (lut[ids] >= 0)  # only tokens the targets can score
        r = torch.rand(ids.shape, generator=generator, device=ids.device)
        chosen = cand & (r < self.mask_prob)
        if cand.any() and not chosen.any():  # at least one prediction per batch
            first = cand.flatten().nonzero()[0]
            chosen.view(-1)[first] = True
        action = torch.rand(ids.shape, generator=generator, device=ids.device)
        rand_ids = vocab_ids[torch.randint(len(vocab_ids), ids.shape, generator=generator,
                                           device=ids.device)]
        masked = torch.where(chosen & (action < 0.8),
                             torch.full_like(ids, model.text_encoder.special_ids()['mask']), ids)
        masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), rand_ids, masked)
        return masked, chosen

    def features(self, model, masked_ids: Tensor, att: Tensor,
                 positions: Optional[Tensor] = None) -> Tensor:
        """Decoder outputs of the text tokens: ``(B, L, C)``, or ``(N, C)`` at the N ``True``
        entries of the ``(B, L)`` bool ``positions`` only."""
        feats = model.text_encoder(masked_ids, att)
        out = model.decoder(feats, [(TokenKind.TEXT_INPUT, feats.shape[1])], att == 0)[:, 1:]
        return out if positions is None else out[positions]

    def logits(self, model, masked_ids: Tensor, att: Tensor,
               positions: Optional[Tensor] = None) -> Tensor:
        """Vocabulary logits: ``(B, L, V)`` at every position, or ``(N, V)`` at the N ``True``
        entries of the ``(B, L)`` bool ``positions`` only (training scores only the masked
        positions: the same loss without the ``(B, L, V)`` logits of the unscored ~85 %)."""
        out = self.features(model, masked_ids, att, positions)
        vocab_ids, _ = self.vocabulary(model)
        return model.likelihood_head(out, self.vocabulary_embeddings(model, vocab_ids), self.family)

    @staticmethod
    def texts_of(data_samples: list):
        if not data_samples or any('text' not in ds for ds in data_samples):
            raise KeyError("LanguageModelingTask: data samples need a 'text' field "
                           "(TextCorpusDataset with PackInputs(algorithm_keys=['text']))")
        return [ds.text for ds in data_samples]

    def loss(self, model, inputs: Optional[Tensor], data_samples: list) -> Dict[str, Tensor]:
        ids, att = model.text_encoder.tokenize(self.texts_of(data_samples))
        masked, chosen = self.mask_tokens(model, ids, att)
        _, lut = self.vocabulary(model)
        targets = lut[ids].masked_fill(~chosen, -100)
        valid = targets != -100
        if not bool(valid.any()):  # no in-vocabulary token to predict in this batch
            out = self.features(model, masked, att, positions=att.bool())
            return self.weighted(dict(loss_mlm=out.sum() * 0.0, acc_mlm=out.new_zeros(())))
        out = self.features(model, masked, att, positions=valid)  # masked positions only
        vocab_ids, _ = self.vocabulary(model)
        cands = self.vocabulary_candidates(model, vocab_ids, targets[valid])
        logits = cands.adjust(model.likelihood_head(out, cands.embeddings, self.family))
        rows = cands.rows(targets[valid])
        loss = F.cross_entropy(logits, rows)
        with torch.no_grad():
            acc = (logits.argmax(-1) == rows).float().mean()
        return self.weighted(dict(loss_mlm=loss, acc_mlm=acc))

    def predict(self, model, inputs: Optional[Tensor], data_samples: list) -> list:
        """Fill the mask tokens of each ``text``; writes ``pred_text``."""
        tok = model.text_encoder.tokenizer
        ids, att = model.text_encoder.tokenize(self.texts_of(data_samples))
        vocab_ids, _ = self.vocabulary(model)
        filled = vocab_ids[self.logits(model, ids, att).argmax(-1)]
        mask_id = model.text_encoder.special_ids()['mask']
        out = torch.where(ids == mask_id, filled, ids)
        for ds, seq, a in zip(data_samples, out.tolist(), att.tolist()):
            ds.pred_text = tok.decode(seq[:sum(a)], skip_special_tokens=True)
        return data_samples

    def tensor(self, model, inputs: Optional[Tensor], data_samples: list) -> Tensor:
        """``(B, L, V)`` vocabulary logits of the unmasked text."""
        ids, att = model.text_encoder.tokenize(self.texts_of(data_samples))
        return self.logits(model, ids, att)
