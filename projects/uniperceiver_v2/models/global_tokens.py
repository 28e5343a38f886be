"""Global image tokens, paper Eq. 3: ``[AttnPool_1(F_L), ..., AttnPool_M'(F_L) ; flatten(F_L)]``."""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import SinePositionalEncoding
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class GlobalTokens(BaseModule):
    """M' CLIP-style attention pools over the last feature map, followed by the flattened map.

    The map is projected to ``embed_dims`` and given a 2-D sine position encoding.  Each pool ``m``
    is a CLIP ``AttentionPool2d`` query: the masked mean of the map plus a learned per-pool
    embedding, attending over all valid positions (one shared multi-head attention, one query per
    pool).  The flattened map is average-pooled with stride ``s = ceil(sqrt(h w / max_tokens))``
    when it has more than ``max_tokens`` positions (padding excluded from the averages).

    Args:
        in_channels (int): channels of the last backbone map ``F_L``.
        embed_dims (int): output token width (the decoder's width).
        num_pools (int): M', the number of attention-pool tokens. Defaults to 1.
        num_heads (int): attention heads of the pools. Defaults to 8.
        max_tokens (int, optional): cap on the flattened-map tokens (None: no cap).
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self, in_channels: int, embed_dims: int, num_pools: int = 1,
                 num_heads: int = 8, max_tokens: Optional[int] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_pools < 0:
            raise ValueError(f'GlobalTokens.num_pools must be >= 0, got {num_pools}')
        if embed_dims % 2 or embed_dims % num_heads:
            raise ValueError(f'GlobalTokens.embed_dims ({embed_dims}) must be even and divisible '
                             f'by num_heads ({num_heads})')
        self.num_pools = num_pools
        self.max_tokens = max_tokens
        self.input_proj = nn.Linear(in_channels, embed_dims)
        self.positional_encoding = SinePositionalEncoding(num_feats=embed_dims // 2,
                                                          normalize=True)
        self.pool_queries = nn.Parameter(torch.zeros(num_pools, embed_dims))
        nn.init.normal_(self.pool_queries, std=embed_dims ** -0.5)
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, batch_first=True)
        self.output_proj = nn.Linear(embed_dims, embed_dims)

    def _pool_map(self, x: Tensor, valid: Tensor) -> Tuple[Tensor, Tensor]:
        """Masked average pooling of ``(B, C, h, w)`` so that ``h' w' <= max_tokens``."""
        h, w = x.shape[-2:]
        if self.max_tokens is None or h * w <= self.max_tokens:
            return x, valid
        stride = math.ceil(math.sqrt(h * w / self.max_tokens))
        while math.ceil(h / stride) * math.ceil(w / stride) > self.max_tokens:
            stride += 1
        v = valid[:, None].to(x.dtype)
        num = F.avg_pool2d(x * v, stride, stride, ceil_mode=True)
        den = F.avg_pool2d(v, stride, stride, ceil_mode=True)
        return num / den.clamp(min=1e-6), den[:, 0] > 0

    def forward(self, feat: Tensor, padding_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """
        Args:
            feat (Tensor): ``(B, in_channels, h, w)`` last feature map ``F_L``.
            padding_mask (Tensor, optional): ``(B, h, w)`` bool, True = padding.

        Returns:
            tuple[Tensor, Tensor]: tokens ``(B, M' + h' w', embed_dims)`` and their padding mask
            ``(B, M' + h' w')`` (True = padding).
        """
        bs, _, h, w = feat.shape
        if padding_mask is None:
            padding_mask = feat.new_zeros((bs, h, w), dtype=torch.bool)
        if padding_mask.shape != (bs, h, w):
            raise ValueError(f'GlobalTokens: padding_mask shape {tuple(padding_mask.shape)} does '
                             f'not match the feature map {(bs, h, w)}')
        x = self.input_proj(feat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        x, valid = self._pool_map(x, ~padding_mask)
        x = x + self.positional_encoding(~valid).to(x.dtype)
        tokens = x.flatten(2).transpose(1, 2)                       # (B, h'w', C)
        key_padding = ~valid.flatten(1)                             # (B, h'w')
        parts = []
        if self.num_pools > 0:
            weights = (~key_padding).to(tokens.dtype)[..., None]
            mean = (tokens * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(
                min=1)
            query = mean + self.pool_queries[None]                  # (B, M', C)
            pooled = self.attn(query, tokens, tokens, key_padding_mask=key_padding,
                               need_weights=False)[0]
            parts.append(self.output_proj(pooled))
        parts.append(tokens)
        pool_padding = key_padding.new_zeros((bs, self.num_pools))
        return torch.cat(parts, 1), torch.cat([pool_padding, key_padding], 1)
