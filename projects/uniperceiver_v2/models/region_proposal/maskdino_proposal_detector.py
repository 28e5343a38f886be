"""The region proposal network of Uni-Perceiver v2 as a class-agnostic mmdet detector (Sec. 4.1).

Mask DINO-like: backbone -> neck (stride 4, 8, 16, 32, 64) -> deformable encoder over the strides
8..64 -> two-stage query selection -> DINO decoder with contrastive denoising queries -> box,
binary objectness and mask (pixel embedding from the stride-4 feature + encoder memory).

Everything but the mask branch and the binary objectness is mmdet's :class:`~mmdet.models.DINO`.
The same module serves the Uni-Perceiver v2 image encoder (:meth:`forward_proposals`) and standard
mmdet training / testing as an instance segmenter whose labels are all 0.
"""
import math
from typing import Dict, Optional, Tuple

import torch
from mmdet.models.detectors import DINO
from mmdet.models.layers.transformer.utils import MLP
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, OptSampleList, SampleList
from mmdet.utils import ConfigType
from torch import Tensor, nn

from .maskdino_head import MaskDINOHead


@MODELS.register_module()
class MaskDINOProposalDetector(DINO):
    """Class-agnostic Mask DINO built on mmdet's DINO.

    Args:
        pixel_embedding (dict): config of :class:`MaskDINOPixelEmbedding` (``embed_dims`` is
            filled in). Defaults to ``dict(type='MaskDINOPixelEmbedding')``.
        *args, **kwargs: :class:`~mmdet.models.DINO` arguments.  The neck must return
            ``num_feature_levels + 1`` maps: the first (stride 4) feeds the pixel embedding, the
            rest the deformable encoder.  ``bbox_head`` is a :class:`MaskDINOHead`.
    """

    def __init__(self, *args,
                 pixel_embedding: ConfigType = dict(type='MaskDINOPixelEmbedding'),
                 **kwargs) -> None:
        self._pixel_embedding_cfg = dict(pixel_embedding)
        super().__init__(*args, **kwargs)
        if not isinstance(self.bbox_head, MaskDINOHead):
            raise TypeError('MaskDINOProposalDetector.bbox_head must be a MaskDINOHead, got '
                            f'{type(self.bbox_head).__name__}')

    def _init_layers(self) -> None:
        """DINO layers plus the pixel embedding."""
        super()._init_layers()
        # mmdet's DINO allocates level_embed uninitialised (torch.Tensor) and fills it only in
        # init_weights; zero it here so a model used without init_weights (tests, a checkpoint
        # that lacks it) never sees garbage or NaN.  Zeroing draws no random numbers, so seeded
        # runs (which call init_weights) are unchanged.
        nn.init.zeros_(self.level_embed)
        # mmdet's DINO decoder encodes reference boxes with a fixed 4 x 128 sine encoding but sizes
        # ref_point_head's input as 2 * embed_dims, which only agrees at width 256; size it to the
        # encoding so narrower (CPU) widths work too.
        if self.embed_dims != 256:
            self.decoder.ref_point_head = MLP(512, self.embed_dims, self.embed_dims, 2)
        cfg = dict(self._pixel_embedding_cfg)
        cfg.setdefault('embed_dims', self.embed_dims)
        self.pixel_embedding = MODELS.build(cfg)

    # ------------------------------------------------------------------ transformer
    def forward_transformer(self, img_feats: Tuple[Tensor], batch_data_samples: OptSampleList = None,
                            with_denoising: Optional[bool] = None) -> Dict:
        """Encoder, pixel embedding, query selection and decoder.

        Args:
            img_feats (tuple[Tensor]): ``num_feature_levels + 1`` neck maps ``(B, C, h_l, w_l)``,
                highest resolution first.
            batch_data_samples (list[DetDataSample]): metainfo (and ``gt_instances`` when
                denoising).
            with_denoising (bool, optional): add contrastive denoising queries. Defaults to
                ``self.training``.

        Returns:
            dict: head inputs: ``hidden_states (L, B, Q_total, C)``, ``references``,
            ``mask_features (B, mask_dims, H/4, W/4)`` and, with denoising / training,
            ``enc_outputs_class``, ``enc_outputs_coord``, ``enc_outputs_query``, ``dn_meta``.
        """
        if len(img_feats) != self.num_feature_levels + 1:
            raise ValueError(
                f'MaskDINOProposalDetector: the neck returned {len(img_feats)} maps, expected '
                f'num_feature_levels + 1 = {self.num_feature_levels + 1} (stride 4 for masks '
                'first); set neck.num_outs accordingly')
        with_denoising = self.training if with_denoising is None else with_denoising
        encoder_inputs_dict, decoder_inputs_dict = self.pre_transformer(
            img_feats[1:], batch_data_samples)
        encoder_outputs_dict = self.forward_encoder(**encoder_inputs_dict)
        mask_features = self.pixel_embedding(img_feats[0], encoder_outputs_dict['memory'],
                                             encoder_outputs_dict['spatial_shapes'])
        tmp_dec_in, head_inputs_dict = self.pre_decoder(
            **encoder_outputs_dict, batch_data_samples=batch_data_samples,
            with_denoising=with_denoising)
        decoder_inputs_dict.update(tmp_dec_in)
        head_inputs_dict.update(self.forward_decoder(**decoder_inputs_dict))
        head_inputs_dict['mask_features'] = mask_features
        return head_inputs_dict

    def check_enough_tokens(self, num_tokens: int, spatial_shapes: Tensor,
                            batch_data_samples: OptSampleList = None) -> None:
        """Raise a clear error when the input is too small for the two-stage query selection.

        The decoder's ``num_queries`` queries are the top-scoring encoder tokens, so the encoder
        needs at least ``num_queries`` of them (without this check ``torch.topk`` fails with
        "selected index k out of range").

        Args:
            num_tokens (int): encoder tokens of the padded batch (all levels).
            spatial_shapes (Tensor): ``(levels, 2)`` ``(h, w)`` of the encoder levels.
            batch_data_samples (list[DetDataSample], optional): for ``batch_input_shape``.
        """
        if num_tokens >= self.num_queries:
            return
        strides = [8 * 2**level for level in range(len(spatial_shapes))]  # 8, 16, 32, 64
        in_shape = None
        if batch_data_samples:
            in_shape = batch_data_samples[0].metainfo.get('batch_input_shape')
        if in_shape is None:
            in_shape = tuple(int(v) * 8 for v in spatial_shapes[0].tolist())
        side = 1
        while sum(math.ceil(side / s)**2 for s in strides) < self.num_queries:
            side += 1
        raise ValueError(
            f'MaskDINOProposalDetector: a {in_shape[0]}x{in_shape[1]} px input gives '
            f'{num_tokens} encoder tokens, fewer than num_queries={self.num_queries}; the '
            f'(padded) input must be at least {side}x{side} px (resize small images up, or '
            'lower num_queries)')

    def pre_decoder(self, memory: Tensor, memory_mask: Tensor, spatial_shapes: Tensor,
                    batch_data_samples: OptSampleList = None,
                    with_denoising: bool = False) -> Tuple[Dict, Dict]:
        """DINO's two-stage query selection, also returning the selected encoder features
        (``enc_outputs_query``, ``(B, Q, C)``) so the encoder proposals get mask losses too.

        Denoising queries are built from class-agnostic copies of the ground truth.
        """
        bs = memory.shape[0]
        self.check_enough_tokens(memory.shape[1], spatial_shapes, batch_data_samples)
        output_memory, output_proposals = self.gen_encoder_output_proposals(
            memory, memory_mask, spatial_shapes)
        head = self.bbox_head
        num_layers = self.decoder.num_layers
        enc_outputs_class = head.cls_branches[num_layers](output_memory)
        enc_outputs_coord_unact = head.reg_branches[num_layers](output_memory) + output_proposals
        topk_indices = torch.topk(enc_outputs_class.max(-1)[0], k=self.num_queries, dim=1)[1]
        topk_score = torch.gather(enc_outputs_class, 1, topk_indices.unsqueeze(-1).expand(
            -1, -1, enc_outputs_class.shape[-1]))
        topk_coords_unact = torch.gather(enc_outputs_coord_unact, 1,
                                         topk_indices.unsqueeze(-1).expand(-1, -1, 4))
        topk_query = torch.gather(output_memory, 1, topk_indices.unsqueeze(-1).expand(
            -1, -1, output_memory.shape[-1]))
        topk_coords = topk_coords_unact.sigmoid()
        topk_coords_unact = topk_coords_unact.detach()

        query = self.query_embedding.weight[None].expand(bs, -1, -1)
        if with_denoising:
            if batch_data_samples is None:
                raise ValueError('MaskDINOProposalDetector: denoising needs batch_data_samples '
                                 'with gt_instances')
            agnostic = [
                DetDataSample(metainfo=s.metainfo, gt_instances=gt) for s, gt in zip(
                    batch_data_samples, MaskDINOHead.class_agnostic_gt(batch_data_samples))
            ]
            dn_label_query, dn_bbox_query, dn_mask, dn_meta = self.dn_query_generator(agnostic)
            query = torch.cat([dn_label_query, query], dim=1)
            reference_points = torch.cat([dn_bbox_query, topk_coords_unact], dim=1)
        else:
            reference_points = topk_coords_unact
            dn_mask, dn_meta = None, None
        decoder_inputs_dict = dict(query=query, memory=memory,
                                   reference_points=reference_points.sigmoid(), dn_mask=dn_mask)
        head_inputs_dict = dict(enc_outputs_class=topk_score, enc_outputs_coord=topk_coords,
                                enc_outputs_query=topk_query,
                                dn_meta=dn_meta) if with_denoising else dict()
        return decoder_inputs_dict, head_inputs_dict

    # ------------------------------------------------------------------ image encoder API
    def forward_proposals(self, img_feats: Tuple[Tensor], batch_data_samples: SampleList,
                          with_loss: bool = False) -> Dict:
        """Final-layer proposals for the Uni-Perceiver v2 image encoder.

        Args:
            img_feats (tuple[Tensor]): neck maps (see :meth:`forward_transformer`).
            batch_data_samples (list[DetDataSample]): metainfo, plus ``gt_instances`` if
                ``with_loss``.
            with_loss (bool): also compute the losses (with denoising queries) and the final
                layer's Hungarian assignment.

        Returns:
            dict: ``queries (B, Q, C)``, ``objectness (B, Q)``, ``boxes (B, Q, 4)`` normalised
            cxcywh, ``mask_embed (B, Q, mask_dims)`` and ``mask_features (B, mask_dims, h, w)``
            (mask logits = ``MaskDINOHead.mask_logits(mask_embed, mask_features)``, formed only
            for the proposals kept); with ``with_loss`` also ``losses`` (dict),
            ``assigned_gt (B, Q)`` (long, -1 = unmatched) and ``layers``: every decoder layer's
            matching-query predictions ``queries (L, B, Q, C)``, ``objectness (L, B, Q)``,
            ``boxes (L, B, Q, 4)``, ``mask_embed (L, B, Q, mask_dims)`` and Hungarian assignment
            ``assigned_gt (L, B, Q)`` (``[-1]`` = the final layer's, as above).
        """
        head_inputs = self.forward_transformer(img_feats, batch_data_samples,
                                               with_denoising=with_loss)
        out = {}
        if with_loss:
            losses, (cls, boxes, mask_embed), assigned = self.bbox_head.loss_and_assign(
                **head_inputs, batch_data_samples=batch_data_samples)
            num_dn = head_inputs['dn_meta']['num_denoising_queries']
            out.update(losses=losses, assigned_gt=assigned[-1], layers=dict(
                queries=head_inputs['hidden_states'][:, :, num_dn:], objectness=cls[..., 0],
                boxes=boxes, mask_embed=mask_embed, assigned_gt=assigned))
            cls, boxes, mask_embed = cls[-1], boxes[-1], mask_embed[-1]
        else:
            cls, boxes, mask_embed = self.bbox_head.forward_last_layer(
                head_inputs['hidden_states'], head_inputs['references'])
            num_dn = 0
        out.update(queries=head_inputs['hidden_states'][-1, :, num_dn:], objectness=cls[..., 0],
                   boxes=boxes, mask_embed=mask_embed, mask_features=head_inputs['mask_features'])
        return out
