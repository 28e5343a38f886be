"""The unified decoder g(.) shared by every task (the paper's task-agnostic decoder).

A pre-norm Transformer encoder stack over ``[<SPE>, tokens...]`` whose FFNs are attribute-level
conditional MoE layers (``models/moe.py``).  The ``<SPE>`` output represents the whole sequence.
Attention is ``torch.nn.functional.scaled_dot_product_attention`` with a boolean mask built from

* a key padding mask (True = padding), and
* an optional ``causal_start``: tokens at positions ``>= causal_start`` (counted in the full
  sequence, ``<SPE>`` = position 0) are autoregressive - they see every position before
  ``causal_start`` and the causal tokens up to themselves; earlier tokens never see them.
  I.e. ``allowed(q, k) = (k < causal_start) or (k <= q)``.

Incremental decoding keeps per-layer keys/values in a :class:`DecoderCache`; feeding tokens one at a
time with the cache gives the same outputs as one full pass with ``causal_start``.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .moe import AttributeMoEFFN, Segments


@dataclass
class DecoderCache:
    """Keys/values of the tokens decoded so far, for incremental decoding.

    Args:
        keys (list[Tensor]): per layer ``(B, H, T_past, C/H)``.
        values (list[Tensor]): per layer ``(B, H, T_past, C/H)``.
        padding_mask (Tensor): ``(B, T_past)`` bool, True = padding.
        causal_start (int, optional): the ``causal_start`` of the sequence.
    """
    keys: List[Tensor] = field(default_factory=list)
    values: List[Tensor] = field(default_factory=list)
    padding_mask: Optional[Tensor] = None
    causal_start: Optional[int] = None

    @property
    def length(self) -> int:
        return 0 if self.padding_mask is None else self.padding_mask.shape[1]

    def index_select(self, index: Tensor) -> 'DecoderCache':
        """Reorder / repeat the batch (beam search)."""
        return DecoderCache([k.index_select(0, index) for k in self.keys],
                            [v.index_select(0, index) for v in self.values],
                            self.padding_mask.index_select(0, index), self.causal_start)


class DenseFFN(nn.Module):
    """Plain FFN with the same call signature as :class:`AttributeMoEFFN` (non-MoE layers)."""

    def __init__(self, embed_dims: int, feedforward_channels: int):
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, feedforward_channels)
        self.fc2 = nn.Linear(feedforward_channels, embed_dims)

    def forward(self, x: Tensor, segments: Segments) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class UnifiedDecoderLayer(nn.Module):
    """Pre-norm layer: ``x + Attn(LN(x))`` then ``x + FFN(LN(x))``.

    Args:
        embed_dims (int): C.
        num_heads (int): H.
        feedforward_channels (int): F.
        moe_cfg (dict, optional): kwargs of :class:`AttributeMoEFFN`; None = dense FFN.
        dropout (float): dropout on attention weights and residual branches.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 moe_cfg: Optional[dict] = None, dropout: float = 0.0):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'UnifiedDecoder: embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads, self.dropout = num_heads, dropout
        self.norm1 = nn.LayerNorm(embed_dims)
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = (AttributeMoEFFN(embed_dims, feedforward_channels, **moe_cfg)
                    if moe_cfg is not None else DenseFFN(embed_dims, feedforward_channels))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, segments: Segments, attn_mask: Optional[Tensor],
                past: Optional[Tuple[Tensor, Tensor]] = None
                ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        """
        Args:
            x (Tensor): ``(B, T, C)`` new tokens.
            segments: (kind, length) segments covering T.
            attn_mask (Tensor, optional): ``(B, 1, T, T_past + T)`` bool, True = may attend.
            past (tuple[Tensor, Tensor], optional): cached ``(B, H, T_past, C/H)`` keys, values.

        Returns:
            tuple: ``(B, T, C)`` output and the ``(keys, values)`` including the new tokens.
        """
        B, T, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, T, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, T, C)))
        x = x + self.drop(self.ffn(self.norm2(x), segments))
        return x, (k, v)


@MODELS.register_module()
class UnifiedDecoder(BaseModule):
    """The shared Transformer g(.) over ``[<SPE>, tokens...]`` (attribute MoE in every FFN).

    Args:
        embed_dims (int): width C (default 768).
        num_layers (int): default 6.
        num_heads (int): default 12.
        feedforward_channels (int): default 3072.
        moe (dict, optional): :class:`AttributeMoEFFN` kwargs (``num_experts=8, top_k=2,
            gate_noise_std=0.``); None = no MoE anywhere.
        moe_layers (Sequence[int], optional): indices of the layers with an MoE FFN; None = all.
        dropout (float): default 0.
        with_cp (bool): activation checkpointing - in training with gradients (and no cache),
            each layer's activations are recomputed in the backward pass instead of stored
            (same outputs and gradients; dropout and gate noise replay the same random numbers).
            Default False.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, embed_dims: int = 768, num_layers: int = 6, num_heads: int = 12,
                 feedforward_channels: int = 3072,
                 moe: Optional[dict] = dict(num_experts=8, top_k=2, gate_noise_std=0.0),
                 moe_layers: Optional[Sequence[int]] = None, dropout: float = 0.0,
                 with_cp: bool = False, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.with_cp = with_cp
        moe_layers = range(num_layers) if moe_layers is None else list(moe_layers)
        bad = [i for i in moe_layers if not 0 <= i < num_layers]
        if bad:
            raise ValueError(f'UnifiedDecoder: moe_layers {bad} out of range for '
                             f'num_layers={num_layers}')
        self.spe = nn.Parameter(torch.zeros(embed_dims))
        nn.init.normal_(self.spe, std=0.02)
        self.layers = nn.ModuleList([
            UnifiedDecoderLayer(embed_dims, num_heads, feedforward_channels,
                                dict(moe) if (moe is not None and i in moe_layers) else None,
                                dropout) for i in range(num_layers)
        ])
        self.norm = nn.LayerNorm(embed_dims)

    @staticmethod
    def build_attn_mask(padding_mask: Optional[Tensor], num_new: int, num_past: int,
                        causal_start: Optional[int]) -> Optional[Tensor]:
        """Boolean SDPA mask ``(B, 1, num_new, num_past + num_new)``, True = may attend.

        Args:
            padding_mask (Tensor, optional): ``(B, num_past + num_new)`` True = padding key.
            num_new (int): number of query tokens (positions ``num_past ..``).
            num_past (int): cached tokens.
            causal_start (int, optional): see the module docstring.

        Returns:
            Tensor or None: None when every query may attend every key.
        """
        mask = None
        total = num_past + num_new
        if causal_start is not None and causal_start < total:
            dev = padding_mask.device if padding_mask is not None else None
            qpos = torch.arange(num_past, total, device=dev)[:, None]
            kpos = torch.arange(total, device=dev)[None, :]
            mask = ((kpos < causal_start) | (kpos <= qpos))[None, None]
        if padding_mask is not None and bool(padding_mask.any()):
            keep = (~padding_mask)[:, None, None, :]
            mask = keep if mask is None else mask & keep
        if mask is not None and padding_mask is not None:
            mask = mask.expand(padding_mask.shape[0], 1, num_new, total)
        return mask

    def forward(self, tokens: Tensor, segments: Segments,
                padding_mask: Optional[Tensor] = None, causal_start: Optional[int] = None,
                cache: Optional[DecoderCache] = None, use_cache: bool = False
                ) -> Union[Tensor, Tuple[Tensor, DecoderCache]]:
        """Decode a batch of sequences.

        Args:
            tokens (Tensor): ``(B, T, C)`` input tokens (without ``<SPE>``).
            segments (Sequence[tuple[str, int]]): (token kind, length) covering the T tokens; the
                prepended ``<SPE>`` joins the first segment.
            padding_mask (Tensor, optional): ``(B, T)`` bool, True = padding.
            causal_start (int, optional): first autoregressive position, counted in the full
                sequence (``<SPE>`` = 0).  Ignored when continuing a cache (the cache's is used).
            cache (DecoderCache, optional): continue from these keys/values; then no ``<SPE>`` is
                prepended and the new tokens are autoregressive.
            use_cache (bool): also return the updated cache.

        Returns:
            Tensor ``(B, 1 + T, C)`` (``(B, T, C)`` when continuing a cache), ``[:, 0]`` = <SPE>;
            with ``use_cache`` a tuple (outputs, DecoderCache).
        """
        B, T, C = tokens.shape
        if C != self.embed_dims:
            raise ValueError(f'UnifiedDecoder: tokens have width {C}, expected {self.embed_dims}')
        if padding_mask is None:
            padding_mask = tokens.new_zeros(B, T, dtype=torch.bool)
        segments = [(k, int(n)) for k, n in segments if int(n) > 0]
        if cache is None or cache.length == 0:
            x = torch.cat([self.spe.to(tokens.dtype).expand(B, 1, C), tokens], dim=1)
            padding_mask = torch.cat([padding_mask.new_zeros(B, 1), padding_mask], dim=1)
            if segments:
                segments[0] = (segments[0][0], segments[0][1] + 1)
            else:
                raise ValueError('UnifiedDecoder: at least one non-empty segment is required')
            past_mask, num_past, pasts = None, 0, [None] * len(self.layers)
        else:
            x, causal_start = tokens, cache.causal_start
            num_past, past_mask = cache.length, cache.padding_mask
            pasts = list(zip(cache.keys, cache.values))
            if causal_start is None:
                causal_start = num_past
        full_mask = padding_mask if past_mask is None else torch.cat([past_mask, padding_mask], 1)
        attn_mask = self.build_attn_mask(full_mask, x.shape[1], num_past, causal_start)
        new_cache = DecoderCache(padding_mask=full_mask, causal_start=causal_start)
        use_cp = (self.with_cp and self.training and torch.is_grad_enabled() and not use_cache
                  and num_past == 0)
        for layer, past in zip(self.layers, pasts):
            if use_cp:
                x, (k, v) = checkpoint(layer, x, segments, attn_mask, past, use_reentrant=False)
            else:
                x, (k, v) = layer(x, segments, attn_mask, past)
            if use_cache:
                new_cache.keys.append(k)
                new_cache.values.append(v)
        x = self.norm(x)
        return (x, new_cache) if use_cache else x
