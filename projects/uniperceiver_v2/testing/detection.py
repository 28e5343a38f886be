"""Tiny detection inputs and the tiny proposal-network config, for tests on a CPU."""
import os.path as osp
from typing import List, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

#: The tiny proposal network and an image encoder around it (width 32, 20 queries, 2 decoder
#: layers), ``image_encoder`` and ``proposal_network`` keys.
TINY_MASKDINO_CFG = osp.join(osp.dirname(osp.abspath(__file__)), 'configs', 'tiny_maskdino.py')


def make_sample(img_shape: Tuple[int, int], pad_shape: Tuple[int, int], num_gts: int,
                label_offset: int = 0, scale: float = 1.0) -> DetDataSample:
    """A DetDataSample with ``num_gts`` rectangles (bitmap masks at the input scale)."""
    h, w = img_shape
    sample = DetDataSample(metainfo=dict(
        img_shape=(h, w), batch_input_shape=pad_shape, pad_shape=pad_shape,
        ori_shape=(round(h / scale), round(w / scale)), scale_factor=(scale, scale)))
    masks = torch.zeros(num_gts, h, w, dtype=torch.uint8)
    boxes = []
    for i in range(num_gts):
        y0, x0 = 4 + 8 * i, 6 + 4 * i
        y1, x1 = min(h, y0 + 20), min(w, x0 + 24)
        masks[i, y0:y1, x0:x1] = 1
        boxes.append([x0, y0, x1, y1])
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.arange(num_gts) + label_offset,
        masks=BitmapMasks(masks.numpy(), h, w))
    return sample


def make_batch(shapes: Sequence[Tuple[int, int]] = ((64, 96), (56, 80)),
               num_gts: Sequence[int] = (3, 0), pad: Tuple[int, int] = (64, 96),
               label_offset: int = 0, scale: float = 1.0
               ) -> Tuple[torch.Tensor, List[DetDataSample]]:
    """Random images padded to ``pad`` (zero outside each image) with :func:`make_sample` data
    samples of ``num_gts`` rectangles each; seeded, so every call returns the same batch.

    Args:
        shapes (sequence of (h, w)): the images' sizes.
        num_gts (sequence of int): ground truths per image.
        pad (tuple): the padded batch shape.
        label_offset (int): the first ground truth's label.
        scale (float): the images' rescale factor (``ori_shape = shape / scale``).
    """
    torch.manual_seed(0)
    samples = [make_sample(s, pad, n, label_offset, scale) for s, n in zip(shapes, num_gts)]
    inputs = torch.randn(len(samples), 3, *pad)
    for i, (h, w) in enumerate(shapes):
        inputs[i, :, h:] = 0
        inputs[i, :, :, w:] = 0
    return inputs, samples


def assert_same_state_shapes(detector: dict, proposal_network: dict, skip: Sequence[str]) -> None:
    """The models of two configs have the same parameter names and shapes, but for the
    parameters under the prefixes ``skip`` (backbone ``init_cfg`` dropped: no weights loaded).

    Args:
        detector (dict): a detector config (e.g. a stage-1 proposal network).
        proposal_network (dict): the config it must fit (e.g. the image encoder's network).
        skip (sequence of str): parameter-name prefixes left out of the comparison.
    """
    from mmdet.registry import MODELS
    shapes = []
    for cfg in (detector, proposal_network):
        cfg.backbone.pop('init_cfg', None)
        shapes.append({k: v.shape for k, v in MODELS.build(cfg).state_dict().items()
                       if not any(k == p or k.startswith(p + '.') for p in skip)})
    assert shapes[0] == shapes[1]
