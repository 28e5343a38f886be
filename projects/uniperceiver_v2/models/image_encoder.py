"""The Uni-Perceiver v2 image encoder: backbone + region proposals + global tokens (Sec. 4.1)."""
import os.path as osp
import re
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, OptSampleList, SampleList
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader
from torch import Tensor

from ..utils.compat import checkpoint_safe_globals
from .image_tokens import ImageTokens


@MODELS.register_module()
class ImageEncoder(BaseModule):
    """Image -> :class:`ImageTokens` (global tokens, Eq. 3, and top-N proposal tokens, Eq. 2).

    The proposal network (a :class:`MaskDINOProposalDetector`, which owns the backbone and neck)
    yields O proposals ``(q_sem, q_box, q_mask)`` with binary objectness; the ``N`` most object-like
    become tokens ``Proj(q_sem) + B(q_box) + M(q_mask)``.  The last backbone map also gives the
    global tokens.

    Args:
        proposal_network (dict): config of a :class:`MaskDINOProposalDetector`.
        global_tokens (dict): config of :class:`GlobalTokens` (``embed_dims`` is filled in; give
            ``in_channels`` = channels of the last backbone output).
        proposal_tokens (dict): config of :class:`ProposalTokens` (``in_dims`` and ``embed_dims``
            are filled in, and ``pixel_dims`` = the pixel embedding's channels when its
            ``roi_pool_size`` option is on). Defaults to ``dict(type='ProposalTokens')``.
        embed_dims (int): output token width (the unified decoder's width). Defaults to 768.
        num_proposals (int): default N, proposals kept for the decoder. Defaults to 200.
        proposal_checkpoint (str, optional): checkpoint of the same proposal network trained on
            its own (a plain mmdet detector, e.g. ``configs/proposal_network/``), loaded by
            :meth:`init_weights`; the paper starts multi-task training from a detection-pretrained
            proposal network.  Keys must match exactly, except those under
            ``proposal_checkpoint_skip``.  Defaults to None.
        proposal_checkpoint_skip (Sequence[str]): key prefixes of the proposal network left at
            their initialisation when ``proposal_checkpoint`` is loaded: the class-specific parts
            of a class-aware (detection-pretrained) checkpoint, e.g.
            ``('bbox_head.cls_branches', 'dn_query_generator.label_embedding')`` - its class logits
            become this network's objectness logit, as the paper replaces the pretrained
            detector's classes by binary objectness.  Every prefix must match a key of the
            network.  Defaults to ``()``.
        proposal_config (str, optional): the stage-1 config whose training writes
            ``proposal_checkpoint`` (e.g. ``configs/proposal_network/...``); named by the error
            raised when the checkpoint is missing.  Defaults to None.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self, proposal_network: ConfigType, global_tokens: ConfigType,
                 proposal_tokens: ConfigType = dict(type='ProposalTokens'),
                 embed_dims: int = 768, num_proposals: int = 200,
                 proposal_checkpoint: Optional[str] = None,
                 proposal_checkpoint_skip: Sequence[str] = (),
                 proposal_config: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.proposal_checkpoint = proposal_checkpoint
        self.proposal_config = proposal_config
        self.proposal_network = MODELS.build(proposal_network)
        if isinstance(proposal_checkpoint_skip, str):
            proposal_checkpoint_skip = (proposal_checkpoint_skip, )
        self.proposal_checkpoint_skip = tuple(proposal_checkpoint_skip)
        keys = self.proposal_network.state_dict().keys()
        for prefix in self.proposal_checkpoint_skip:
            if not any(self._under(key, prefix) for key in keys):
                raise KeyError(f'ImageEncoder: model.image_encoder.proposal_checkpoint_skip entry '
                               f'{prefix!r} matches no parameter of the proposal network')
        self.embed_dims = embed_dims
        self.num_proposals = num_proposals
        self.num_queries = self.proposal_network.num_queries
        self._check_num_proposals(num_proposals)
        self.global_tokens = MODELS.build(dict(global_tokens, embed_dims=embed_dims))
        tokens_cfg = dict(proposal_tokens, in_dims=self.proposal_network.embed_dims,
                          embed_dims=embed_dims)
        if tokens_cfg.get('roi_pool_size'):  # the pixel embedding's channels
            tokens_cfg.setdefault('pixel_dims', self.proposal_network.bbox_head.mask_dims)
        self.proposal_tokens = MODELS.build(tokens_cfg)

    def init_weights(self) -> None:
        """Initialise every part, then load ``proposal_checkpoint`` into the proposal network.

        The checkpoint is loaded after the proposal network's own initialisation because mmdet's
        DETR-family ``init_weights`` re-initialises the transformer after loading a
        ``Pretrained`` ``init_cfg`` of the detector.
        """
        super().init_weights()
        if self.proposal_checkpoint is None:
            return
        if '://' not in self.proposal_checkpoint and not osp.isfile(self.proposal_checkpoint):
            stage1 = (f'python tools/train.py {self.proposal_config}' if self.proposal_config
                      else 'tools/train.py on the stage-1 config in configs/proposal_network/')
            raise FileNotFoundError(
                f'ImageEncoder: proposal_checkpoint {self.proposal_checkpoint!r} (config key '
                f'model.image_encoder.proposal_checkpoint) does not exist: train the proposal '
                f'network first ({stage1}; its last checkpoint is that path), or start from the '
                f'backbone weights alone with --cfg-options '
                f'model.image_encoder.proposal_checkpoint=None')
        with checkpoint_safe_globals():  # an mmengine checkpoint, under torch's safe loader
            checkpoint = CheckpointLoader.load_checkpoint(self.proposal_checkpoint,
                                                          map_location='cpu')
        state = checkpoint.get('state_dict', checkpoint)
        # as mmengine's load_checkpoint: a (Distributed)DataParallel 'module.' prefix is dropped
        state = {re.sub(r'^module\.', '', key): value for key, value in state.items()}
        state = {key: value for key, value in state.items()
                 if not any(self._under(key, prefix) for prefix in self.proposal_checkpoint_skip)}
        try:
            missing, unexpected = self.proposal_network.load_state_dict(state, strict=False)
        except RuntimeError as error:  # a shape mismatch
            raise RuntimeError(
                f'ImageEncoder: proposal_checkpoint {self.proposal_checkpoint!r} does not fit the '
                f'proposal network: {error}\n(class-specific parts of a class-aware checkpoint go '
                'in model.image_encoder.proposal_checkpoint_skip)') from error
        missing = [key for key in missing
                   if not any(self._under(key, p) for p in self.proposal_checkpoint_skip)]
        if missing or unexpected:
            raise KeyError(
                f'ImageEncoder: proposal_checkpoint {self.proposal_checkpoint!r} does not fit the '
                f'proposal network (model.image_encoder.proposal_network): missing keys '
                f'{missing[:5]}, unexpected keys {unexpected[:5]} (first five of {len(missing)} / '
                f'{len(unexpected)}); list class-specific parts in '
                'model.image_encoder.proposal_checkpoint_skip')
        print_log(f'ImageEncoder: loaded the proposal network from {self.proposal_checkpoint}'
                  + (f', keeping {list(self.proposal_checkpoint_skip)} at their initialisation'
                     if self.proposal_checkpoint_skip else ''), logger='current')

    @staticmethod
    def _under(key: str, prefix: str) -> bool:
        """Whether state-dict ``key`` is ``prefix`` or lies under it (dotted)."""
        return key == prefix or key.startswith(prefix + '.')

    def _check_num_proposals(self, num: int) -> None:
        if not 0 < num <= self.num_queries:
            raise ValueError(f'ImageEncoder: num_proposals must be in [1, num_queries='
                             f'{self.num_queries}], got {num}')

    @staticmethod
    def feature_padding_mask(data_samples: SampleList, size: Tuple[int, int],
                             device: torch.device) -> Tensor:
        """``(B, h, w)`` bool padding mask of a feature map from ``img_shape`` /
        ``batch_input_shape`` (True = padding)."""
        pad_h, pad_w = data_samples[0].batch_input_shape
        masks = torch.ones((len(data_samples), pad_h, pad_w), device=device)
        for i, sample in enumerate(data_samples):
            img_h, img_w = sample.img_shape[:2]
            masks[i, :img_h, :img_w] = 0
        return F.interpolate(masks[None], size=size)[0].bool()

    @staticmethod
    def unpadded_samples(inputs: Tensor) -> SampleList:
        """Data samples for a batch given without them: every image fills the ``(H, W)`` input
        (``img_shape = batch_input_shape = ori_shape``, scale factor 1), so nothing is masked as
        padding and proposal boxes are in input pixels.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images.
        """
        shape = tuple(int(v) for v in inputs.shape[-2:])
        meta = dict(img_shape=shape, batch_input_shape=shape, pad_shape=shape, ori_shape=shape,
                    scale_factor=(1.0, 1.0))
        return [DetDataSample(metainfo=meta) for _ in range(inputs.shape[0])]

    def pixel_inputs(self, pixel_features: Tensor, data_samples: SampleList) -> Dict:
        """Keyword arguments of the proposal tokens' optional pixel term
        (``ProposalTokens.roi_pool_size``): the pixel embedding and each image's extent in the
        padded batch; empty when the tokens do not use them."""
        if not getattr(self.proposal_tokens, 'uses_pixel_features', False):
            return {}
        extent = [[s.img_shape[1] / s.batch_input_shape[1],
                   s.img_shape[0] / s.batch_input_shape[0]] for s in data_samples]
        return dict(pixel_features=pixel_features,
                    image_extent=pixel_features.new_tensor(extent))

    def select_proposals(self, queries: Tensor, boxes: Tensor, mask_embed: Tensor,
                         index: Tensor, mask_features: Tensor,
                         pixel_inputs: Dict) -> Tuple[Tensor, Tensor, Tensor]:
        """Tokens (Eq. 2), boxes and mask logits of the proposals ``index`` of one decoder layer.

        Args:
            queries (Tensor): ``(B, Q, C)`` query features ``q_sem``.
            boxes (Tensor): ``(B, Q, 4)`` normalised cxcywh.
            mask_embed (Tensor): ``(B, Q, mask_dims)`` mask embeddings.
            index (Tensor): ``(B, N)`` the proposals kept.
            mask_features (Tensor): ``(B, mask_dims, h, w)`` pixel embedding.
            pixel_inputs (dict): :meth:`pixel_inputs`.

        Returns:
            tuple[Tensor]: tokens ``(B, N, embed_dims)``, boxes ``(B, N, 4)``, mask logits
            ``(B, N, h, w)``.
        """
        def take(x: Tensor) -> Tensor:
            return torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[-1]))

        boxes = take(boxes)
        masks = self.proposal_network.bbox_head.mask_logits(take(mask_embed), mask_features)
        return self.proposal_tokens(take(queries), boxes, masks, **pixel_inputs), boxes, masks

    def _encode(self, inputs: Tensor, data_samples: OptSampleList, num_proposals: Optional[int],
                with_loss: bool, aux_layers: bool = False) -> Tuple[ImageTokens, Dict]:
        if data_samples is None:
            if with_loss:
                raise ValueError('ImageEncoder.loss needs data_samples with gt_instances (the '
                                 "proposal network's targets); only inference takes None")
            data_samples = self.unpadded_samples(inputs)
        for key in ('img_shape', 'batch_input_shape'):
            if any(key not in s.metainfo for s in data_samples):
                raise KeyError(f'ImageEncoder: every data sample needs metainfo `{key}`')
        num = self.num_proposals if num_proposals is None else num_proposals
        self._check_num_proposals(num)
        net = self.proposal_network
        backbone_feats = net.backbone(inputs)
        neck_feats = net.neck(backbone_feats) if net.with_neck else backbone_feats
        out = net.forward_proposals(neck_feats, data_samples, with_loss=with_loss)

        last = backbone_feats[-1]
        global_tokens, global_padding = self.global_tokens(
            last, self.feature_padding_mask(data_samples, last.shape[-2:], last.device))

        objectness = out['objectness']                                  # (B, Q)
        index = objectness.topk(num, dim=1)[1]                          # (B, N)
        pixel_inputs = self.pixel_inputs(out['mask_features'], data_samples)
        tokens, boxes, masks = self.select_proposals(out['queries'], out['boxes'],
                                                     out['mask_embed'], index,
                                                     out['mask_features'], pixel_inputs)
        gt_index = torch.gather(out['assigned_gt'], 1, index) if with_loss else None
        aux_tokens = aux_gt_index = None
        if aux_layers and out['layers']['queries'].shape[0] > 1:
            # the same N proposals (chosen by the final layer) as each earlier layer saw them
            layers = out['layers']
            aux_tokens = torch.stack([
                self.select_proposals(layers['queries'][layer], layers['boxes'][layer],
                                      layers['mask_embed'][layer], index, out['mask_features'],
                                      pixel_inputs)[0]
                for layer in range(layers['queries'].shape[0] - 1)], dim=1)
            aux_gt_index = torch.gather(layers['assigned_gt'][:-1].transpose(0, 1), 2,
                                        index[:, None].expand(-1, aux_tokens.shape[1], -1))
        image_tokens = ImageTokens(
            global_tokens=global_tokens,
            global_padding_mask=global_padding,
            proposal_tokens=tokens,
            proposal_padding_mask=index.new_zeros(index.shape, dtype=torch.bool),
            proposal_boxes=boxes,
            proposal_mask_logits=masks,
            proposal_objectness=torch.gather(objectness, 1, index),
            proposal_query_index=index,
            proposal_gt_index=gt_index,
            aux_proposal_tokens=aux_tokens,
            aux_proposal_gt_index=aux_gt_index)
        return image_tokens, out.get('losses', {})

    def forward(self, inputs: Tensor, data_samples: OptSampleList = None,
                num_proposals: Optional[int] = None) -> ImageTokens:
        """Image tokens without losses (no denoising queries).

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised, padded images.
            data_samples (list[DetDataSample], optional): metainfo ``img_shape``,
                ``batch_input_shape``; None = an unpadded batch (:meth:`unpadded_samples`).
            num_proposals (int, optional): N, proposals kept (default ``self.num_proposals``;
                ``num_queries`` keeps all, as detection does).

        Returns:
            ImageTokens: with ``proposal_gt_index=None``.
        """
        return self._encode(inputs, data_samples, num_proposals, with_loss=False)[0]

    def loss(self, inputs: Tensor, data_samples: SampleList,
             num_proposals: Optional[int] = None,
             aux_layers: bool = False) -> Tuple[ImageTokens, Dict[str, Tensor]]:
        """Image tokens and the proposal network's losses (keys prefixed ``proposal.``).

        ``proposal_gt_index`` holds the final decoder layer's Hungarian assignment of each kept
        proposal (-1 = unmatched), for the detection task to reuse.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised, padded images.
            data_samples (list[DetDataSample]): as :meth:`forward` plus ``gt_instances``
                (``bboxes`` xyxy input pixels, ``labels``, ``masks`` at input scale).
            num_proposals (int, optional): N (see :meth:`forward`).
            aux_layers (bool): also fill ``aux_proposal_tokens`` / ``aux_proposal_gt_index``:
                the same N proposals' tokens from every earlier decoder layer of the proposal
                network and those layers' assignments (deep class supervision, [ours], not in
                the paper; ``DetectionTask.aux_class_loss``).  Defaults to False.
        """
        tokens, losses = self._encode(inputs, data_samples, num_proposals, with_loss=True,
                                      aux_layers=aux_layers)
        return tokens, {f'proposal.{k}': v for k, v in losses.items()}
