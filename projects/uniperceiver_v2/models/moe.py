"""Attribute-level conditional mixture of experts with weight-merged experts (Uni-Perceiver-MoE).

Routing input is a fixed attribute vector per token segment (``models/attributes.py``), so every
token of a segment goes to the same experts with the same gates.  The chosen experts' weights are
merged into one matrix per segment,

    W_s = sum_{i in topk(s)} g_{s,i} W_i,      b_s = sum_i g_{s,i} b_i,

and the segment is multiplied once by ``W_s``: an MoE FFN costs about one dense FFN, with no
capacity factor and no token dropping.  For one linear layer this is exactly the explicit mixture
``sum_i g_i (W_i x + b_i)``; the FFN applies it to both of its linear layers with the segment's gates.

At inference (eval mode, no grad) the merged weights are cached per token kind until one of the
FFN's weights changes (:class:`~uniperceiver_v2.models.weight_cache.WeightVersionCache`), so the
cost is that of a dense FFN.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from .attributes import NUM_ATTRIBUTE_BITS, TokenKind, attribute_tensor
from .weight_cache import WeightVersionCache

Kinds = Sequence[Union[str, TokenKind]]
Segments = Sequence[Tuple[Union[str, TokenKind], int]]


class AttributeRouter(nn.Module):
    """Attribute vector -> Linear + LayerNorm -> gate (fp32) -> renormalised top-k gates.

    Args:
        embed_dims (int): hidden width of the attribute embedding.
        num_experts (int): E.
        top_k (int): experts per segment.
        noise_std (float): std of Gaussian noise added to the gate logits in training (0 = off).
    """

    def __init__(self, embed_dims: int, num_experts: int, top_k: int, noise_std: float = 0.0):
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f'AttributeRouter: top_k must be in [1, num_experts={num_experts}], '
                             f'got {top_k}')
        self.num_experts, self.top_k, self.noise_std = num_experts, top_k, noise_std
        self.attr_proj = nn.Linear(NUM_ATTRIBUTE_BITS, embed_dims)
        self.attr_norm = nn.LayerNorm(embed_dims)
        self.gate = nn.Linear(embed_dims, num_experts, bias=False)

    def forward(self, kinds: Kinds) -> Tuple[Tensor, Tensor]:
        """Top-k experts and gates of each token kind.

        Args:
            kinds (Sequence[str | TokenKind]): S token kinds.

        Returns:
            tuple[Tensor, Tensor]: ``(S, k)`` long expert indices and ``(S, k)`` fp32 gates that
            sum to 1 per row (softmax over the k largest logits = renormalised top-k softmax).
        """
        attr = attribute_tensor(kinds, device=self.gate.weight.device)
        h = self.attr_norm(self.attr_proj(attr.to(self.attr_proj.weight.dtype)))
        logits = F.linear(h.float(), self.gate.weight.float())  # fp32 gate
        if self.training and self.noise_std > 0:
            logits = logits + torch.randn_like(logits) * self.noise_std
        top_logits, top_idx = logits.topk(self.top_k, dim=-1)
        return top_idx, top_logits.softmax(dim=-1)

    def dense_gates(self, kinds: Kinds) -> Tensor:
        """``(S, E)`` gates with zeros outside the top-k (for tests and analysis)."""
        idx, gates = self.forward(kinds)
        return torch.zeros(idx.shape[0], self.num_experts, device=gates.device).scatter(
            1, idx, gates)


@MODELS.register_module()
class AttributeMoEFFN(nn.Module):
    """FFN whose two linear layers are attribute-routed mixtures of E experts, merged per segment.

    Args:
        embed_dims (int): C, the decoder width.
        feedforward_channels (int): F, the hidden width.
        num_experts (int): E (default 8).
        top_k (int): experts per segment (default 2).
        gate_noise_std (float): gate noise in training (default 0).
        router_dims (int, optional): attribute embedding width; defaults to ``embed_dims``.
    """

    def __init__(self, embed_dims: int, feedforward_channels: int, num_experts: int = 8,
                 top_k: int = 2, gate_noise_std: float = 0.0, router_dims: Optional[int] = None):
        super().__init__()
        self.embed_dims, self.feedforward_channels = embed_dims, feedforward_channels
        self.router = AttributeRouter(router_dims or embed_dims, num_experts, top_k,
                                      gate_noise_std)
        E, C, Fh = num_experts, embed_dims, feedforward_channels
        # stored as (E, out, in) like nn.Linear, so a merged weight goes straight into F.linear
        self.merged_cache = WeightVersionCache()
        self.w1 = nn.Parameter(torch.empty(E, Fh, C))
        self.b1 = nn.Parameter(torch.empty(E, Fh))
        self.w2 = nn.Parameter(torch.empty(E, C, Fh))
        self.b2 = nn.Parameter(torch.empty(E, C))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each expert initialised like ``nn.Linear``."""
        for w, b in ((self.w1, self.b1), (self.w2, self.b2)):
            bound = 1.0 / math.sqrt(w.shape[2])
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)

    def merged_weights(self, kinds: Kinds) -> List[Tensor]:
        """W_s = sum_i g_{s,i} W_i for each kind (one dense FFN per kind); cached at inference.

        Returns:
            list[Tensor]: ``w1 (S, F, C), b1 (S, F), w2 (S, C, F), b2 (S, C)`` (``nn.Linear``
            layout: ``y = x W^T + b``).
        """
        if self.training or torch.is_grad_enabled():
            return self._merge(kinds)
        return self.merged_cache.get(tuple(kinds), lambda: self._merge(kinds), self.parameters())

    def _merge(self, kinds: Kinds) -> List[Tensor]:
        idx, gates = self.router(kinds)
        gates = gates.to(self.w1.dtype)[:, None, :]  # (S, 1, k)
        out = []
        for p in (self.w1, self.b1, self.w2, self.b2):
            sel = p[idx]  # (S, k, ...): the chosen experts only
            out.append(torch.bmm(gates, sel.flatten(2)).view(sel.shape[0], *p.shape[1:]))
        return out

    def forward(self, x: Tensor, segments: Segments) -> Tensor:
        """Apply the merged FFN segment by segment.

        Args:
            x (Tensor): ``(B, T, C)``.
            segments (Sequence[tuple[str | TokenKind, int]]): consecutive (token kind, length)
                covering T.

        Returns:
            Tensor: ``(B, T, C)``.
        """
        lengths = [n for _, n in segments]
        if sum(lengths) != x.shape[1]:
            raise ValueError(f'AttributeMoEFFN: segments {list(segments)} cover {sum(lengths)} '
                             f'tokens but the input has {x.shape[1]}')
        kinds = [k for k, _ in segments]
        uniq = list(dict.fromkeys(kinds))
        w1, b1, w2, b2 = self.merged_weights(uniq)
        pos = {k: i for i, k in enumerate(uniq)}
        if len(uniq) == 1:  # one kind: a single dense FFN
            return F.linear(F.gelu(F.linear(x, w1[0], b1[0])), w2[0], b2[0])
        out = torch.empty_like(x)
        start = 0
        for kind, n in segments:  # one dense matmul pair per segment
            s = pos[kind]
            out[:, start:start + n] = F.linear(F.gelu(F.linear(x[:, start:start + n], w1[s], b1[s])),
                                               w2[s], b2[s])
            start += n
        return out
