"""Proposal tokens, paper Eq. 2: ``q = Proj(q_sem) + B(q_box) + M(q_mask)``."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.ops import RoIAlign
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmdet.models.layers.transformer.utils import coordinate_to_encoding
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmdet.utils import OptMultiConfig
from torch import Tensor, nn


@MODELS.register_module()
class ProposalTokens(BaseModule):
    """Fuse each proposal's semantic feature, box and mask into one token (paper Eq. 2).

    ``q = Proj(q_sem) + B(q_box) + M(q_mask)`` where ``B`` is the sine encoding of the normalised
    ``(cx, cy, w, h)`` box that DINO uses for its reference boxes (mmdet
    ``coordinate_to_encoding``, see :meth:`box_encoding`) followed by a Linear layer, and ``M``
    average-pools the mask logits to ``mask_pool_size x mask_pool_size``, flattens them and applies
    a Linear layer.

    Args:
        in_dims (int): width of ``q_sem`` (the proposal network's query width).
        embed_dims (int): output token width (the unified decoder's width).
        mask_pool_size (int): side of the pooled mask. Defaults to 28.
        box_num_feats (int): sine channels per box coordinate. Defaults to 128.
        detach_geometry (bool): stop gradients from the tokens into the box and mask predictions.
            Defaults to True.
        roi_pool_size (int): [ours], not in the paper.  When > 0, a fourth term
            ``R(q_box) = Linear(flatten(RoIAlign(E_pix, q_box)))`` is added: the pixel feature map
            ``E_pix`` (the proposal network's pixel embedding) pooled inside the proposal's box
            to ``roi_pool_size x roi_pool_size`` by mmcv ``RoIAlign`` (aligned), so the token sees
            the object's pixels and the class loss reaches the pixel embedding (gradients flow
            into ``E_pix``; the box is detached).  0 (default) = Eq. 2 only, no extra parameter.
        pixel_dims (int, optional): channels of ``E_pix`` (``ImageEncoder`` fills in the proposal
            network's ``mask_dims``); needed when ``roi_pool_size > 0``.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self, in_dims: int, embed_dims: int, mask_pool_size: int = 28,
                 box_num_feats: int = 128, detach_geometry: bool = True,
                 roi_pool_size: int = 0, pixel_dims: Optional[int] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.mask_pool_size = mask_pool_size
        self.box_num_feats = box_num_feats
        self.detach_geometry = detach_geometry
        self.sem_proj = nn.Linear(in_dims, embed_dims)
        self.box_proj = nn.Linear(4 * box_num_feats, embed_dims)
        self.mask_proj = nn.Linear(mask_pool_size * mask_pool_size, embed_dims)
        if roi_pool_size < 0:
            raise ValueError(f'ProposalTokens.roi_pool_size must be >= 0, got {roi_pool_size}')
        self.roi_pool_size = roi_pool_size
        if roi_pool_size:
            if not pixel_dims:
                raise ValueError('ProposalTokens.roi_pool_size > 0 needs pixel_dims (the channels '
                                 'of the pixel feature map; model.image_encoder.proposal_tokens)')
            self.roi_align = RoIAlign(roi_pool_size, spatial_scale=1.0, sampling_ratio=0,
                                      aligned=True)
            self.roi_proj = nn.Linear(pixel_dims * roi_pool_size * roi_pool_size, embed_dims)

    @property
    def uses_pixel_features(self) -> bool:
        """Whether :meth:`forward` needs ``pixel_features`` (``roi_pool_size > 0``)."""
        return self.roi_pool_size > 0

    def roi_features(self, pixel_features: Tensor, q_box: Tensor, image_extent: Tensor) -> Tensor:
        """``(B, N, pixel_dims * s * s)`` RoIAlign of the pixel features inside each box.

        Args:
            pixel_features (Tensor): ``(B, C, h, w)`` map over the padded batch.
            q_box (Tensor): ``(B, N, 4)`` normalised cxcywh w.r.t. each image's ``img_shape``.
            image_extent (Tensor): ``(B, 2)`` ``(img_w / pad_w, img_h / pad_h)``: the part of
                the padded map each image covers.
        """
        bs, num = q_box.shape[:2]
        h, w = pixel_features.shape[-2:]
        scale = image_extent.to(q_box) * q_box.new_tensor([w, h])        # (B, 2) map pixels
        boxes = bbox_cxcywh_to_xyxy(q_box.detach()) * scale.repeat(1, 2)[:, None]
        batch_index = torch.arange(bs, device=q_box.device, dtype=q_box.dtype)
        rois = torch.cat([batch_index[:, None, None].expand(bs, num, 1), boxes], -1)
        pooled = self.roi_align(pixel_features, rois.reshape(-1, 5).to(pixel_features.dtype))
        return pooled.reshape(bs, num, -1)

    def box_encoding(self, boxes: Tensor) -> Tensor:
        """Sine encoding of normalised boxes, channels ``[enc(cx), enc(cy), enc(w), enc(h)]``.

        ``enc(x)`` has ``box_num_feats`` channels ``sin(2 pi x / t_0), cos(2 pi x / t_1), sin(2 pi
        x / t_2), ...`` with ``t_k = 10000 ** (2 * (k // 2) / box_num_feats)``.  mmdet's
        ``coordinate_to_encoding`` orders its output ``(y, x, w, h)``; x and y are swapped on the
        way in so the channel order (and so the trained ``box_proj``) stays ``(x, y, w, h)``.

        Args:
            boxes (Tensor): ``(B, N, 4)`` normalised cxcywh.

        Returns:
            Tensor: ``(B, N, 4 * box_num_feats)`` in the dtype of ``boxes``.
        """
        return coordinate_to_encoding(boxes[..., [1, 0, 2, 3]].float(),
                                      num_feats=self.box_num_feats).to(boxes.dtype)

    def forward(self, q_sem: Tensor, q_box: Tensor, q_mask: Tensor,
                pixel_features: Optional[Tensor] = None,
                image_extent: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            q_sem (Tensor): ``(B, N, in_dims)`` proposal features.
            q_box (Tensor): ``(B, N, 4)`` normalised cxcywh boxes.
            q_mask (Tensor): ``(B, N, h, w)`` mask logits.
            pixel_features (Tensor, optional): ``(B, pixel_dims, h, w)`` pixel feature map of the
                padded batch; required with ``roi_pool_size > 0``, ignored otherwise.
            image_extent (Tensor, optional): ``(B, 2)`` ``(img_w / pad_w, img_h / pad_h)``;
                None = every image fills the padded batch.

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
        box_tokens = self.box_proj(self.box_encoding(q_box))
        tokens = self.sem_proj(q_sem) + box_tokens + mask_tokens
        if self.uses_pixel_features:
            if pixel_features is None:
                raise ValueError('ProposalTokens: roi_pool_size > 0 needs pixel_features')
            if image_extent is None:
                image_extent = q_box.new_ones(bs, 2)
            tokens = tokens + self.roi_proj(self.roi_features(pixel_features, q_box,
                                                              image_extent))
        return tokens
