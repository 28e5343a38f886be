"""Fixtures of the region proposal network tests: a tiny config and tiny batches."""
import os.path as osp
from typing import Callable, List, Sequence, Tuple

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import uniperceiver_v2  # noqa: F401  (registers the plugin)

TINY_CFG = osp.join(osp.dirname(__file__), 'tiny_maskdino.py')


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope('mmdet')


@pytest.fixture
def tiny_cfg() -> Config:
    """The tiny proposal network / image encoder config (width 32, 20 queries, 2 decoder layers)."""
    return Config.fromfile(TINY_CFG)


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


@pytest.fixture
def make_batch() -> Callable[..., Tuple[torch.Tensor, List[DetDataSample]]]:
    """``make_batch(shapes, num_gts, pad=(64, 96))`` -> (inputs, data samples)."""

    def _make(shapes: Sequence[Tuple[int, int]] = ((64, 96), (56, 80)),
              num_gts: Sequence[int] = (3, 0), pad: Tuple[int, int] = (64, 96),
              label_offset: int = 0, scale: float = 1.0):
        torch.manual_seed(0)
        samples = [make_sample(s, pad, n, label_offset, scale) for s, n in zip(shapes, num_gts)]
        inputs = torch.randn(len(samples), 3, *pad)
        for i, (h, w) in enumerate(shapes):
            inputs[i, :, h:] = 0
            inputs[i, :, :, w:] = 0
        return inputs, samples

    return _make
