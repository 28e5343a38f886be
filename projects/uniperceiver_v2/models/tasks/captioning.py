"""Image captioning as next-token likelihood over the vocabulary (paper Eq. 1).

x_t = [<SPE>, image tokens, w_0 .. w_t] (w_0 = the tokenizer's begin token), Y = the vocabulary
(each entry ``g([<SPE>, e_w])_SPE``), logits_t = cos(g(x)_t, g(y)) / τ, CE against w_{t+1}.  All
positions are trained in one pass: caption tokens are autoregressive in both the text encoder
(causal self-attention mask) and the decoder (``causal_start``), and image tokens never see text.

Inference is beam search (``beam_size``; 1 = greedy) with the vocabulary embeddings cached and the
decoder's keys/values cached (incremental decoding; ``use_kv_cache=False`` re-runs the whole prefix
every step, same result).  Output: ``pred_caption`` (mmpretrain ``COCOCaption`` metric format).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from ..attributes import IMAGE_WITH_TEXT, TokenKind
from .base_task import BaseTask, texts_of


@MODELS.register_module()
class CaptioningTask(BaseTask):
    """Autoregressive captioning with the unified likelihood.

    Args:
        vocabulary (None | str | Sequence[int]): the target token ids; None = the tokenizer's full
            vocabulary (paper default); a list of ids; or a file of captions / ids (see
            :func:`load_vocabulary`) - the ids the captions use plus special tokens.
        beam_size (int): beam width at inference (default 2 as in Uni-Perceiver-MoE; 1 = greedy).
        max_length (int): maximum generated tokens (default 20).
        label_smoothing (float): CE label smoothing (default 0.1 [ours]).
        use_kv_cache (bool): incremental decoding at inference (default True).
        candidates (dict, optional): how the vocabulary enters a training step
            (:class:`~uniperceiver_v2.models.candidate_targets.CandidateTargets`: ``mode``
            ``'exact'`` / ``'sampled'`` / ``'cached'``, ``shard``, ``num_samples``,
            ``refresh_interval``).  None = every entry with gradient at every step (the paper).
        family (str): temperature family (default ``'captioning'``).
        **kwargs: :class:`BaseTask` arguments.
    """

    def __init__(self, vocabulary: Union[None, str, Sequence[int]] = None, beam_size: int = 2,
                 max_length: int = 20, label_smoothing: float = 0.1, use_kv_cache: bool = True,
                 candidates: Optional[dict] = None, family: str = 'captioning', **kwargs):
        super().__init__(family=family, **kwargs)
        self.configure_candidates(candidates)
        if beam_size < 1 or max_length < 1:
            raise ValueError(f'CaptioningTask: beam_size and max_length must be >= 1, got '
                             f'{beam_size}, {max_length}')
        self.vocabulary_cfg = vocabulary
        self.beam_size, self.max_length = beam_size, max_length
        self.label_smoothing, self.use_kv_cache = label_smoothing, use_kv_cache

    # ------------------------------------------------------------------ vocabulary
    def vocabulary(self, model) -> Tuple[Tensor, Tensor]:
        """``(V,)`` token ids of the targets and the ``(vocab_size,)`` id -> target index map
        (-100 for ids outside the vocabulary)."""
        return self.vocabulary_lookup(model, self.vocabulary_cfg, 'CaptioningTask.vocabulary')

    # ------------------------------------------------------------------ sequences
    def caption_sequence(self, model, image_tokens, text_feats: Tensor, text_padding: Tensor):
        """Decoder input ``[image tokens, caption tokens]``, padding, segments, causal_start."""
        img, img_pad, segments = self.image_sequence(image_tokens, IMAGE_WITH_TEXT)
        tokens = torch.cat([img, text_feats], 1)
        padding = torch.cat([img_pad, text_padding], 1)
        segments = segments + [(TokenKind.CAPTION_TEXT, text_feats.shape[1])]
        return tokens, padding, segments, 1 + img.shape[1]

    @staticmethod
    def captions_of(data_samples: list) -> List[str]:
        """One training caption per sample (:func:`texts_of` on ``gt_caption``)."""
        return texts_of(data_samples, 'gt_caption', training=True,
                        source="CaptioningTask: mmpretrain COCOCaption with PackInputs "
                        "algorithm_keys=['gt_caption']")

    def loss(self, model, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """CE of every next token in one pass (the caption is shifted by one)."""
        image_tokens, _ = self.encode_image(model, inputs, data_samples)
        ids, att = model.text_encoder.tokenize(self.captions_of(data_samples))
        in_ids, in_att = ids[:, :-1], att[:, :-1]
        vocab_ids, lut = self.vocabulary(model)
        targets = lut[ids[:, 1:]].masked_fill(att[:, 1:] == 0, -100)
        feats = model.text_encoder(in_ids, in_att, causal=True)
        tokens, padding, segments, cs = self.caption_sequence(model, image_tokens, feats,
                                                              in_att == 0)
        out = model.decoder(tokens, segments, padding, causal_start=cs)[:, cs:]
        cands = self.vocabulary_candidates(model, vocab_ids, targets)
        logits = cands.adjust(model.likelihood_head(out, cands.embeddings, self.family))
        targets = cands.rows(targets)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100,
                               label_smoothing=self.label_smoothing)
        with torch.no_grad():
            valid = targets != -100
            acc = (logits.argmax(-1) == targets)[valid].float().mean()
        return self.weighted(dict(loss_caption=loss, acc_token=acc))

    # ------------------------------------------------------------------ inference
    def _step_logprobs(self, model, image_tokens, ids: Tensor, cache, vocab_emb: Tensor):
        """Log-probabilities of the next token after ``ids`` ``(N, t)``; returns (logp, cache)."""
        att = torch.ones_like(ids)
        feats = model.text_encoder(ids, att, causal=True)
        if cache is None or not self.use_kv_cache:
            tokens, padding, segments, cs = self.caption_sequence(
                model, image_tokens, feats, att == 0)
            out, cache = model.decoder(tokens, segments, padding, causal_start=cs, use_cache=True)
        else:
            out, cache = model.decoder(feats[:, -1:], [(TokenKind.CAPTION_TEXT, 1)],
                                       att[:, -1:] == 0, cache=cache, use_cache=True)
        logits = model.likelihood_head(out[:, -1], vocab_emb, self.family)
        return logits.log_softmax(-1), cache

    def generate(self, model, inputs: Tensor, data_samples: Optional[list]) -> Tensor:
        """Beam search.

        Returns:
            Tensor: ``(B, T)`` generated token ids (after the begin token, up to the end token).
        """
        image_tokens, _ = self.encode_image(model, inputs, data_samples)
        B, K = image_tokens.batch_size, self.beam_size
        dev = image_tokens.global_tokens.device
        vocab_ids, lut = self.vocabulary(model)
        vocab_emb = self.vocabulary_embeddings(model, vocab_ids)
        special = model.text_encoder.special_ids()
        end_idx = int(lut[special['end']])
        if end_idx < 0:
            raise ValueError('CaptioningTask: the end token is not in the vocabulary')
        image_tokens = image_tokens.index_select(torch.arange(B, device=dev).repeat_interleave(K))
        ids = torch.full((B * K, 1), special['begin'], dtype=torch.long, device=dev)
        scores = torch.zeros(B, K, device=dev)
        scores[:, 1:] = float('-inf')  # all beams start identical: keep one
        finished = torch.zeros(B * K, dtype=torch.bool, device=dev)
        cache = None
        V = vocab_ids.numel()
        for _ in range(self.max_length):
            logp, cache = self._step_logprobs(model, image_tokens, ids, cache, vocab_emb)
            # finished beams only extend with the end token at no cost
            logp = torch.where(finished[:, None], torch.full_like(logp, float('-inf')), logp)
            logp[finished, end_idx] = 0.0
            cand = (scores.view(-1, 1) + logp).view(B, K * V)
            scores, flat = cand.topk(K, dim=1)
            beam = (flat // V) + torch.arange(B, device=dev)[:, None] * K
            beam = beam.view(-1)
            word = vocab_ids[(flat % V).view(-1)]
            ids = torch.cat([ids.index_select(0, beam), word[:, None]], 1)
            finished = finished.index_select(0, beam) | (word == special['end'])
            cache = cache.index_select(beam)
            if bool(finished.all()):
                break
        best = scores.argmax(1) + torch.arange(B, device=dev) * K
        return ids.index_select(0, best)[:, 1:]

    def predict(self, model, inputs: Tensor, data_samples: Optional[list]) -> list:
        """Write ``pred_caption`` (str) into each data sample."""
        from mmpretrain.structures import DataSample
        ids = self.generate(model, inputs, data_samples)
        end = model.text_encoder.special_ids()['end']
        if data_samples is None:
            data_samples = [DataSample() for _ in range(ids.shape[0])]
        tok = model.text_encoder.tokenizer
        for ds, seq in zip(data_samples, ids.tolist()):
            seq = seq[:seq.index(end)] if end in seq else seq
            ds.pred_caption = tok.decode(seq, skip_special_tokens=True).strip()
        return data_samples

    def tensor(self, model, inputs: Tensor, data_samples: Optional[list]) -> Tensor:
        """``(B, T)`` generated token ids."""
        return self.generate(model, inputs, data_samples)
