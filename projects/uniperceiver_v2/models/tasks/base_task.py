"""What every task formulation shares (paper Eq. 1: every task is one likelihood).

Task contract (the model owns the shared parts and passes itself to its task):

* ``family`` (str): the likelihood head's temperature family of the task.
* ``loss(model, inputs, data_samples) -> dict[str, Tensor]``
* ``predict(model, inputs, data_samples) -> list`` (standard data samples with predictions)
* ``tensor(model, inputs, data_samples) -> Tensor | dict[str, Tensor]`` (features)

``model`` is the :class:`~uniperceiver_v2.models.UniPerceiverV2` instance: ``model.image_encoder``,
``model.text_encoder``, ``model.decoder``, ``model.likelihood_head``.  A task never stores the
shared modules and keeps no state about which task is running.

Helpers here build the decoder inputs: image token sequences (with their MoE segments),
``<SPE>`` representations of texts, and cached class-name / vocabulary target embeddings.
"""
import json
import os
import random
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from ..attributes import IMAGE_ONLY, ImageKinds, TokenKind, token_kind
from ..image_tokens import ImageTokens
from ..candidate_targets import CandidateBatch, CandidateTargets
from ..weight_cache import WeightVersionCache


def load_class_names(class_names: Union[str, Sequence[str]], owner: str) -> List[str]:
    """Class names from a list or a text file (one name per line).

    Args:
        class_names: the list, or the path of the file.
        owner (str): who asks (for the error message), e.g. ``'ClassificationTask.class_names'``.
    """
    if isinstance(class_names, str):
        if not os.path.isfile(class_names):
            raise FileNotFoundError(f'{owner}: class-name file not found: {class_names}')
        with open(class_names, encoding='utf-8') as f:
            class_names = [line.strip() for line in f if line.strip()]
    names = [str(c) for c in class_names]
    if not names:
        raise ValueError(f'{owner}: the class list is empty')
    return names


def texts_of(data_samples: list, field: str, training: bool, source: str) -> List[str]:
    """The texts of a batch: one per sample in training (a random one when a sample has several),
    all of them at evaluation.

    Args:
        data_samples (list): data samples with the text field.
        field (str): ``'gt_caption'`` (captioning) or ``'text'`` (retrieval).
        training (bool): one text per sample, else every text.
        source (str): where the field comes from, for the error message.
    """
    texts = []
    for ds in data_samples:
        if field not in ds:
            raise KeyError(f'data samples need a {field!r} field ({source})')
        value = getattr(ds, field)
        if isinstance(value, (list, tuple)):
            texts.extend([random.choice(value)] if training else value)
        else:
            texts.append(value)
    return texts


def load_vocabulary(vocabulary: Union[None, str, Sequence[int]], tokenizer,
                    owner: str) -> List[int]:
    """The token ids the vocabulary targets range over (sorted, special tokens included).

    Args:
        vocabulary: None = the tokenizer's full vocabulary (paper default); a list of token ids; or
            a file: ``.json`` holding a list of ids, a list of captions, a list of dicts with
            ``caption``, or a COCO caption file (``annotations[*].caption``); any other file is
            read as one caption per line.  Captions are tokenized and every id they use is kept.
        tokenizer: the text encoder's tokenizer.
        owner (str): config key for error messages.
    """
    if vocabulary is None:
        return list(range(len(tokenizer)))
    if isinstance(vocabulary, str):
        if not os.path.isfile(vocabulary):
            raise FileNotFoundError(f'{owner}: vocabulary file not found: {vocabulary}')
        with open(vocabulary, encoding='utf-8') as f:
            if vocabulary.endswith('.json'):
                data = json.load(f)
                if isinstance(data, dict):
                    data = data.get('annotations', [])
            else:
                data = [line.rstrip('\n') for line in f]
        if all(isinstance(d, int) for d in data):
            ids = list(data)
        else:
            texts = [d['caption'] if isinstance(d, dict) else str(d) for d in data]
            texts = [t for c in texts for t in (c if isinstance(c, list) else [c])]
            ids = [i for t in texts for i in tokenizer(t)['input_ids']]
    else:
        ids = [int(i) for i in vocabulary]
    ids += [i for i in tokenizer.all_special_ids if i is not None]
    ids = sorted(set(ids))
    if not ids or min(ids) < 0 or max(ids) >= len(tokenizer):
        raise ValueError(f'{owner}: vocabulary ids must be in [0, {len(tokenizer)}), got '
                         f'{len(ids)} ids')
    return ids


def pack_by_length(lengths: Sequence[int], max_tokens: int = 8192,
                   call_cost: int = 128) -> List[List[int]]:
    """Group texts of the given token lengths into batches that waste little padding.

    Each batch is padded to its longest text, and every batch is one text-encoder and one
    decoder call, whose fixed cost (the attribute-MoE FFNs merge and keep their expert weights
    per call, Sec. 3.1) is counted as ``call_cost`` padded tokens.  The texts sorted by length
    are cut, by dynamic programming over the distinct lengths, into the groups of least total
    cost ``sum(n * longest + call_cost)``; a group of more than ``max_tokens`` padded tokens
    is split into equal calls.  Indices within a batch are in increasing order.

    Args:
        lengths (Sequence[int]): token count of each text.
        max_tokens (int): padded tokens per call at most.
        call_cost (int): the fixed cost of one call, in padded tokens.

    Returns:
        list[list[int]]: batches of text indices; together every index once.
    """
    if not lengths:
        return []
    distinct = sorted(set(lengths))
    count = [sum(1 for L in lengths if L == d) for d in distinct]

    def calls(n: int, longest: int) -> int:
        return max(1, -(-n * longest // max_tokens))

    best = [0.0] + [float('inf')] * len(distinct)
    cut = [0] * (len(distinct) + 1)
    for j in range(1, len(distinct) + 1):  # groups = distinct lengths i..j-1
        n = 0
        for i in range(j - 1, -1, -1):
            n += count[i]
            cost = best[i] + n * distinct[j - 1] + calls(n, distinct[j - 1]) * call_cost
            if cost < best[j]:
                best[j], cut[j] = cost, i
    bounds, j = [], len(distinct)
    while j:
        bounds.append((distinct[cut[j]], distinct[j - 1]))
        j = cut[j]
    batches = []
    for lo, hi in reversed(bounds):
        group = [k for k, L in enumerate(lengths) if lo <= L <= hi]
        parts = calls(len(group), hi)
        size = -(-len(group) // parts)
        batches += [group[k:k + size] for k in range(0, len(group), size)]
    return batches


class ClassNameCandidates:
    """The class-name candidate set Y of classification and detection.

    The training names (index = ground-truth label) are fixed at construction; the names scored
    at test time are separate (``test_class_names``, :meth:`set_class_names`, or per call), so
    zero-shot / open-vocabulary evaluation never changes what the loss is computed against.
    """

    def init_class_names(self, class_names: Union[str, Sequence[str]],
                         test_class_names: Union[None, str, Sequence[str]],
                         prompt: str) -> None:
        """Set ``class_names``, ``test_class_names`` and ``prompt`` (call from ``__init__``).

        Args:
            class_names (Sequence[str] | str): training names, or a file with one per line.
            test_class_names (Sequence[str] | str, optional): names scored by ``predict``;
                None = ``class_names``.
            prompt (str): format applied to each name, containing ``'{}'``.
        """
        owner = type(self).__name__
        self.class_names = load_class_names(class_names, f'{owner}.class_names')
        self.test_class_names: Optional[List[str]] = None
        if test_class_names is not None:
            self.set_class_names(test_class_names)
        if '{}' not in prompt:
            raise ValueError(f"{owner}.prompt must contain '{{}}', got {prompt!r}")
        self.prompt = prompt

    def set_class_names(self, class_names: Union[str, Sequence[str]]) -> None:
        """Set the names scored at test time (zero-shot; training names and weights kept)."""
        self.test_class_names = load_class_names(class_names,
                                                 f'{type(self).__name__}.test_class_names')

    @property
    def predict_class_names(self) -> List[str]:
        """The names ``predict`` scores: ``test_class_names``, else ``class_names``."""
        return self.test_class_names or self.class_names

    def prompts(self, class_names: Union[None, str, Sequence[str]] = None,
                training: bool = False) -> List[str]:
        """Prompted names: ``class_names`` if given, else the training names when ``training``,
        else :attr:`predict_class_names`."""
        if class_names is not None:
            names = load_class_names(class_names,
                                     f'{type(self).__name__}.predict(class_names=...)')
        else:
            names = self.class_names if training else self.predict_class_names
        return [self.prompt.format(n) for n in names]


class BaseTask(BaseModule):
    """Base class of the task formulations.

    Args:
        family (str): temperature family in the likelihood head.
        use_global (bool): feed the global image tokens (ablation switch).
        use_proposals (bool): feed the proposal tokens (ablation switch).
        num_proposals (int, optional): proposals kept for the decoder (None = encoder default).
        loss_weight (float): multiplies the task's losses.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, family: str, use_global: bool = True, use_proposals: bool = True,
                 num_proposals: Optional[int] = None, loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not (use_global or use_proposals):
            raise ValueError(f'{type(self).__name__}: use_global and use_proposals cannot both '
                             'be False')
        self.family = family
        self.use_global, self.use_proposals = use_global, use_proposals
        self.num_proposals = num_proposals
        self.loss_weight = loss_weight
        self._vocabulary_cache = WeightVersionCache()
        # how a candidate set enters training; the paper's exact loss unless a task that scores
        # a set configures it (``candidates`` of classification, captioning, masked LM)
        self.candidates = CandidateTargets(owner=f'{type(self).__name__}.candidates')

    def configure_candidates(self, candidates: Optional[dict]) -> None:
        """Set :attr:`candidates` from the task's ``candidates`` config.

        Args:
            candidates (dict, optional): :class:`CandidateTargets` arguments (``mode``,
                ``shard``, ``num_samples``, ``refresh_interval``); None = exact, unsharded.
        """
        self.candidates = CandidateTargets(**(candidates or {}),
                                           owner=f'{type(self).__name__}.candidates')

    def collectives_in_loss(self) -> List[str]:
        """Config keys that make :meth:`loss` enter a cross-rank collective
        (``candidates.shard``); under mixed sampling on several ranks the train loop refuses
        them."""
        return [f'candidates.{k}' for k in self.candidates.collectives_in_loss()]

    # ------------------------------------------------------------------ image side
    def encode_image(self, model, inputs: Tensor, data_samples: Optional[list],
                     with_loss: bool = False) -> Tuple[ImageTokens, Dict[str, Tensor]]:
        """Run the image encoder; with ``with_loss`` also its own (proposal) losses."""
        if model.image_encoder is None:
            raise ValueError(f'{type(self).__name__}: the model has no image_encoder '
                             '(config key model.image_encoder)')
        if with_loss:
            return model.image_encoder.loss(inputs, data_samples,
                                            num_proposals=self.num_proposals)
        return model.image_encoder(inputs, data_samples, num_proposals=self.num_proposals), {}

    def image_sequence(self, image_tokens: ImageTokens, kinds: ImageKinds = IMAGE_ONLY
                       ) -> Tuple[Tensor, Tensor, List[Tuple[TokenKind, int]]]:
        """Image tokens as a decoder input.

        Args:
            image_tokens (ImageTokens): encoder output.
            kinds (ImageKinds): token kinds of the global and proposal tokens:
                ``IMAGE_ONLY`` (default) or ``IMAGE_WITH_TEXT`` (image + text inputs).

        Returns:
            tuple: ``(B, T, C)`` tokens, ``(B, T)`` padding mask, MoE segments.
        """
        tokens, padding = image_tokens.tokens(self.use_global, self.use_proposals)
        segments = []
        if self.use_global:
            segments.append((kinds.global_tokens, image_tokens.global_tokens.shape[1]))
        if self.use_proposals:
            segments.append((kinds.proposal_tokens, image_tokens.proposal_tokens.shape[1]))
        return tokens, padding, segments

    def decode_image(self, model, image_tokens: ImageTokens) -> Tensor:
        """``g([<SPE>, image tokens])``: ``(B, 1 + T, C)``, ``[:, 0]`` represents the image."""
        tokens, padding, segments = self.image_sequence(image_tokens)
        return model.decoder(tokens, segments, padding)

    def decode_proposals(self, model, image_tokens: ImageTokens) -> Tensor:
        """Decoder outputs of the proposal tokens, all images in one decoder call.

        Returns:
            Tensor: ``(B, N, C)``, from ``g([<SPE>, global, proposals])[:, 1 + G:]``.
        """
        decoded = self.decode_image(model, image_tokens)
        return decoded[:, decoded.shape[1] - image_tokens.proposal_tokens.shape[1]:]

    # ------------------------------------------------------------------ text side
    def encode_texts(self, model, texts: Sequence[str], kind: Union[str, TokenKind]) -> Tensor:
        """``<SPE>`` representation ``g([<SPE>, f_text(t)])[0]`` of each text.

        Args:
            texts (Sequence[str]): M texts.
            kind (str | TokenKind): token kind (e.g. ``TokenKind.CLASS_NAME_TARGET``).

        Returns:
            Tensor: ``(M, C)``.
        """
        feats, _, padding = model.text_encoder.encode(texts)
        return model.decoder(feats, [(token_kind(kind), feats.shape[1])], padding)[:, 0]

    def encode_class_names(self, model, class_names: Sequence[str], max_tokens: int = 8192,
                           call_cost: int = 128) -> Tensor:
        """``<SPE>`` representations of class names, each distinct name encoded once and the
        names grouped by length (:func:`pack_by_length`) so that little padding is computed.

        Within a group the names keep their order, and the outputs go back to the input order.
        Padding is masked in the text encoder and the decoder, so the result is that of
        encoding every name alone.  Names that form one group are encoded as one batch in
        their own order.

        Args:
            class_names (Sequence[str]): K (prompted) names.
            max_tokens (int): padded tokens per call at most (:func:`pack_by_length`).
            call_cost (int): fixed cost of a call in padded tokens (:func:`pack_by_length`).

        Returns:
            Tensor: ``(K, C)``.
        """
        unique = list(dict.fromkeys(class_names))
        tok = model.text_encoder.tokenizer
        lengths = [len(i) for i in tok(unique, truncation=True,
                                       max_length=model.text_encoder.max_length)['input_ids']]
        parts, order = [], []
        for group in pack_by_length(lengths, max_tokens, call_cost):
            parts.append(self.encode_texts(model, [unique[i] for i in group],
                                           TokenKind.CLASS_NAME_TARGET))
            order.extend(group)
        out = torch.cat(parts)
        if order != list(range(len(unique))):
            out = out[torch.argsort(torch.tensor(order, device=out.device))]
        if len(unique) != len(class_names):
            where = {name: i for i, name in enumerate(unique)}
            out = out[torch.tensor([where[n] for n in class_names], device=out.device)]
        return out

    def class_name_embeddings(self, model, class_names: Sequence[str]) -> Tensor:
        """Class-name targets ``(K, C)``; cached at evaluation until the weights change."""
        names = tuple(class_names)
        return model.likelihood_head.cached_targets(
            ('class_names', names), lambda: self.encode_class_names(model, names),
            model.target_parameters())

    def class_name_candidates(self, model, class_names: Sequence[str],
                              labels: Tensor) -> CandidateBatch:
        """Training targets over class names by the task's ``candidates`` setting.

        Args:
            class_names (Sequence[str]): the K (prompted) training names.
            labels (Tensor): the batch's labels (indices into ``class_names``).
        """
        names = list(class_names)

        def encode(idx: Tensor) -> Tensor:
            return self.encode_class_names(model, [names[i] for i in idx.tolist()])

        return self.candidates.batch(encode, len(names), labels)

    def encode_vocabulary(self, model, vocab_ids: Tensor, chunk_size: int = 16384) -> Tensor:
        """Vocabulary targets ``g([<SPE>, e_w])[0]`` of the token ids ``vocab_ids``: ``(V, C)``."""
        outs = []
        for chunk in vocab_ids.split(chunk_size):
            e = model.text_encoder.embed_vocabulary(chunk)[:, None]
            outs.append(model.decoder(e, [(TokenKind.VOCABULARY_TARGET, 1)])[:, 0])
        return torch.cat(outs)

    def vocabulary_embeddings(self, model, vocab_ids: Tensor) -> Tensor:
        """Vocabulary targets ``(V, C)`` of the whole vocabulary; cached at evaluation."""
        key = ('vocabulary', tuple(vocab_ids.tolist()))
        return model.likelihood_head.cached_targets(
            key, lambda: self.encode_vocabulary(model, vocab_ids), model.target_parameters())

    def vocabulary_candidates(self, model, vocab_ids: Tensor, targets: Tensor) -> CandidateBatch:
        """Training targets over the vocabulary by the task's ``candidates`` setting.

        Args:
            vocab_ids (Tensor): ``(V,)`` target token ids.
            targets (Tensor): the batch's target indices into ``vocab_ids`` (-100 = none).
        """
        return self.candidates.batch(lambda idx: self.encode_vocabulary(model, vocab_ids[idx]),
                                     vocab_ids.numel(), targets)

    def vocabulary_lookup(self, model, vocabulary, owner: str) -> Tuple[Tensor, Tensor]:
        """Vocabulary targets of a task (built once per device, see ``weight_cache.py``).

        Args:
            vocabulary: the task's ``vocabulary`` config (see :func:`load_vocabulary`).
            owner (str): config key for error messages.

        Returns:
            tuple[Tensor, Tensor]: ``(V,)`` target token ids and the ``(vocab_size,)`` id ->
            target index map (-100 for ids outside the vocabulary).
        """
        dev = model.text_encoder.device
        tok = model.text_encoder.tokenizer

        def compute() -> Tuple[Tensor, Tensor]:
            ids = torch.tensor(load_vocabulary(vocabulary, tok, owner), device=dev)
            lut = torch.full((len(tok),), -100, dtype=torch.long, device=dev)
            lut[ids] = torch.arange(len(ids), device=dev)
            return ids, lut

        # depends on no weight: one entry per (vocabulary config, tokenizer, device)
        return self._vocabulary_cache.get((repr(vocabulary), id(tok), str(dev)), compute)

    def weighted(self, losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Multiply every loss entry by ``loss_weight``.

        A loss entry is one whose key contains ``'loss'`` - the test mmengine's
        ``BaseModel.parse_losses`` uses to sum the total, so exactly what is summed is weighted
        (``proposal.d0.loss_cls`` included; metrics such as ``acc_cls`` are not).
        """
        if self.loss_weight == 1.0:
            return losses
        return {k: v * self.loss_weight if 'loss' in k else v for k, v in losses.items()}

    @staticmethod
    def parameters_of(*modules) -> Iterable[Tensor]:
        for m in modules:
            if m is not None:
                yield from m.parameters()
