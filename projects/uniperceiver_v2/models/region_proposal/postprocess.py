"""From network outputs to original-image boxes and masks, shared by the proposal head and the
detection task (mmdet's DETR / MaskFormer post-processing).

Boxes: normalised cxcywh w.r.t. ``img_shape`` -> xyxy pixels, clamped to ``img_shape``, divided
by ``scale_factor`` (mmdet ``DETRHead._predict_by_feat_single``).  Masks: logits over the padded
batch upsampled to ``batch_input_shape``, the padding cropped to ``img_shape``, resized to
``ori_shape`` (mmdet ``MaskFormerFusionHead``); callers threshold them.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from torch import Tensor


def scale_factor(meta: dict, owner: str) -> Tuple[float, float]:
    """``(w, h)`` resize factor of an image; ``(1, 1)`` when no Resize ran.

    Args:
        meta (dict): image metainfo (``scale_factor``, or ``img_shape == ori_shape``).
        owner (str): who asks (for the error message).
    """
    if 'scale_factor' in meta:
        return tuple(meta['scale_factor'])
    if tuple(meta['img_shape'][:2]) != tuple(meta['ori_shape'][:2]):
        raise KeyError(f'{owner}: metainfo `scale_factor` is missing but img_shape '
                       f"{meta['img_shape']} != ori_shape {meta['ori_shape']} (keep "
                       'scale_factor in PackDetInputs.meta_keys)')
    return (1.0, 1.0)


def boxes_to_original(boxes: Tensor, meta: dict, owner: str, rescale: bool = True) -> Tensor:
    """Normalised ``(k, 4)`` cxcywh boxes -> ``(k, 4)`` xyxy pixels of the original image.

    Args:
        boxes (Tensor): ``(k, 4)`` normalised cxcywh w.r.t. ``img_shape``.
        meta (dict): image metainfo (``img_shape``; ``scale_factor`` / ``ori_shape`` to rescale).
        owner (str): who asks (for error messages).
        rescale (bool): undo the resize (else pixels of ``img_shape``).
    """
    img_h, img_w = meta['img_shape'][:2]
    out = bbox_cxcywh_to_xyxy(boxes.float()) * boxes.new_tensor([img_w, img_h, img_w, img_h])
    out[:, 0::2] = out[:, 0::2].clamp(min=0, max=img_w)
    out[:, 1::2] = out[:, 1::2].clamp(min=0, max=img_h)
    if rescale:
        out = out / out.new_tensor(scale_factor(meta, owner)).repeat(2)
    return out


def mask_logits_to_original(mask_logits: Tensor, meta: dict, rescale: bool = True) -> Tensor:
    """``(k, h, w)`` mask logits over the padded batch -> ``(k, H, W)`` logits of the image.

    Args:
        mask_logits (Tensor): ``(k, h, w)`` logits (any resolution of the padded batch).
        meta (dict): image metainfo (``batch_input_shape``, ``img_shape``, ``ori_shape``).
        rescale (bool): resize to ``ori_shape`` (else ``img_shape``).
    """
    img_h, img_w = meta['img_shape'][:2]
    out_h, out_w = meta['ori_shape'][:2] if rescale else (img_h, img_w)
    if mask_logits.shape[0] == 0:
        return mask_logits.new_zeros((0, out_h, out_w), dtype=torch.float32)
    masks = F.interpolate(mask_logits[None].float(), size=tuple(meta['batch_input_shape']),
                          mode='bilinear', align_corners=False)[:, :, :img_h, :img_w]
    if rescale:
        masks = F.interpolate(masks, size=(out_h, out_w), mode='bilinear', align_corners=False)
    return masks[0]
