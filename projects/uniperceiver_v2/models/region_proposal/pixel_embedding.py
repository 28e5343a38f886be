"""Mask DINO pixel embedding: the map that per-query mask embeddings are dotted with."""
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class MaskDINOPixelEmbedding(BaseModule):
    """``E_pix = Conv1x1(Conv3x3(lateral(F_4) + up(memory_8)))`` as in Mask DINO / Mask2Former.

    The deformable encoder's highest-resolution level (stride 8) is upsampled to the stride-4
    feature, added to a lateral projection of it, and mapped to ``mask_dims`` channels.

    Args:
        embed_dims (int): channels of the stride-4 feature and of the encoder memory.
        mask_dims (int): output channels. Defaults to ``embed_dims``.
        norm_cfg (dict): norm of the lateral / output convs. Defaults to GN(32).
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self, embed_dims: int = 256, mask_dims: int = None,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.mask_dims = mask_dims or embed_dims
        self.lateral = ConvModule(embed_dims, embed_dims, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.output = ConvModule(embed_dims, embed_dims, 3, padding=1, norm_cfg=norm_cfg,
                                 act_cfg=dict(type='ReLU'))
        self.mask_proj = nn.Conv2d(embed_dims, self.mask_dims, 1)

    def forward(self, high_res: Tensor, memory: Tensor, spatial_shapes: Tensor) -> Tensor:
        """
        Args:
            high_res (Tensor): ``(B, C, H/4, W/4)`` stride-4 neck feature.
            memory (Tensor): ``(B, sum_l h_l w_l, C)`` deformable encoder output; its first level
                is the highest-resolution one.
            spatial_shapes (Tensor): ``(num_levels, 2)`` ``(h, w)`` of each encoder level.

        Returns:
            Tensor: ``(B, mask_dims, H/4, W/4)`` pixel embedding.
        """
        h, w = (int(v) for v in spatial_shapes[0])
        bs, _, c = memory.shape
        mem = memory[:, :h * w].transpose(1, 2).reshape(bs, c, h, w)
        mem = F.interpolate(mem, size=high_res.shape[-2:], mode='bilinear', align_corners=False)
        return self.mask_proj(self.output(self.lateral(high_res) + mem))
