"""Proposal tokens, paper Eq. 2: ``q = Proj(q_sem) + B(q_box) + M(q_mask)``."""
import math

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmdet.utils import OptMultiConfig
from torch import Tensor, nn


def box_sine_embedding(boxes: Tensor, num_feats: int = 128, temperature: float = 10000.) -> Tensor:
    """Sine positional encoding of normalised boxes (DETR / DAB-DETR convention).

    Each coordinate ``x in [0, 1]`` becomes ``[sin(2 pi x / t_0), cos(2 pi x / t_0), sin(2 pi x /
    t_1), ...]`` with ``t_k = temperature ** (2 * (k // 2) / num_feats)``, i.e. even channels sin,
    odd channels cos, for ``k = 0 .. num_feats - 1``.

    Args:
        boxes (Tensor): ``(..., 4)`` normalised ``(cx, cy, w, h)``.
        num_feats (int): channels per coordinate (even).
        temperature (float): frequency base.

    Returns:
        Tensor: ``(..., 4 * num_feats)``.
    """
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=boxes.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_feats)
    pos = boxes.float()[..., None] * (2 * math.pi) / dim_t
    pos = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)
    return pos.flatten(-2).to(boxes.dtype)


@MODELS.register_module()
class ProposalTokens(BaseModule):
    """Fuse each proposal's semantic feature, box and mask into one token (paper Eq. 2).

    ``q = Proj(q_sem) + B(q_box) + M(q_mask)`` where ``B`` is a sine positional encoding of the
    normalised ``(cx, cy, w, h)`` box followed by a Linear layer, and ``M`` average-pools the mask
    logits to ``mask_pool_size x mask_pool_size``, flattens them and applies a Linear layer.

    Args:
        in_dims (int): width of ``q_sem`` (the proposal network's query width).
        embed_dims (int): output token width (the unified decoder's width).
        mask_pool_size (int): side of the pooled mask. Defaults to 28.
        box_num_feats (int): sine channels per box coordinate. Defaults to 128.
        detach_geometry (bool): stop gradients from the tokens into the box and mask predictions.
            Defaults to True.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self, in_dims: int, embed_dims: int, mask_pool_size: int = 28,
                 box_num_feats: int = 128, detach_geometry: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.mask_pool_size = mask_pool_size
        self.box_num_feats = box_num_feats
        self.detach_geometry = detach_geometry
        self.sem_proj = nn.Linear(in_dims, embed_dims)
        self.box_proj = nn.Linear(4 * box_num_feats, embed_dims)
        self.mask_proj = nn.Linear(mask_pool_size * mask_pool_size, embed_dims)

    def forward(self, q_sem: Tensor, q_box: Tensor, q_mask: Tensor) -> Tensor:
        """
        Args:
            q_sem (Tensor): ``(B, N, in_dims)`` proposal features.
            q_box (Tensor): ``(B, N, 4)`` normalised cxcywh boxes.
            q_mask (Tensor): ``(B, N, h, w)`` mask logits.

        Returns:
            Tensor: ``(B, N, embed_dims)`` proposal tokens.
        """
        if q_box.shape[-1] != 4 or q_mask.dim() != 4 or q_sem.shape[:2] != q_box.shape[:2] \
                or q_sem.shape[:2] != q_mask.shape[:2]:
            raise ValueError('ProposalTokens: expected q_sem (B, N, C), q_box (B, N, 4), q_mask '
                             f'(B, N, h, w); got {tuple(q_sem.shape)}, {tuple(q_box.shape)}, '
                             f'{tuple(q_mask.shape)}')
        if self.detach_geometry:
            q_box, q_mask = q_box.detach(), q_mask.detach()
        bs, num = q_mask.shape[:2]
        pooled = F.adaptive_avg_pool2d(q_mask.flatten(0, 1), self.mask_pool_size)
        mask_tokens = self.mask_proj(pooled.reshape(bs, num, -1))
        box_tokens = self.box_proj(box_sine_embedding(q_box, self.box_num_feats))
        return self.sem_proj(q_sem) + box_tokens + mask_tokens
