"""Synthetic batches for every task type (random images, fixed texts), before the model's own data
preprocessor, for FLOPs counts and benchmarks."""
from typing import Optional, Tuple

import torch
import torch.nn as nn

SAMPLE_TEXTS = ('a red circle to the left of a small blue square',
                'two green triangles and a yellow star on a textured background',
                'the large yellow hexagon is above the red star',
                'a blue circle partly hidden behind a green square',
                'three shapes of different colours, the largest being a red triangle')


def task_kind(task: nn.Module) -> str:
    """``'detection'``, ``'classification'``, ``'retrieval'``, ``'captioning'`` or ``'mlm'``."""
    from uniperceiver_v2.models.tasks import (CaptioningTask, ClassificationTask, DetectionTask,
                                              LanguageModelingTask, RetrievalTask)
    for cls, kind in ((DetectionTask, 'detection'), (ClassificationTask, 'classification'),
                      (RetrievalTask, 'retrieval'), (CaptioningTask, 'captioning'),
                      (LanguageModelingTask, 'mlm')):
        if isinstance(task, cls):
            return kind
    raise TypeError(f'no synthetic inputs for task type {type(task).__name__}')


#: default input size (H, W) of each task kind for FLOPs and synthetic benchmarks [ours]
DEFAULT_SHAPES = {'detection': (800, 1333), 'classification': (224, 224),
                  'retrieval': (384, 384), 'captioning': (384, 384), 'mlm': None}


def synthetic_batch(task: nn.Module, batch_size: int, shape: Optional[Tuple[int, int]],
                    training: bool, seed: int = 0) -> dict:
    """A collated data batch (before the data preprocessor) for ``task``.

    Args:
        task (nn.Module): the task component (its type decides the data-sample fields).
        batch_size (int): B.
        shape (tuple[int, int], optional): image (H, W); None = the task kind's default.
        training (bool): training fields (one caption per retrieval sample, gt instances) or
            evaluation fields (5 captions per image with ids).
        seed (int): random seed of images and boxes.

    Returns:
        dict: ``inputs`` (list of ``(3, H, W)`` uint8, or None for text-only tasks) and
        ``data_samples``.
    """
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    from mmpretrain.structures import DataSample
    kind = task_kind(task)
    g = torch.Generator().manual_seed(seed)
    if kind == 'mlm':
        return dict(inputs=None, data_samples=[
            DataSample(text=SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]) for i in range(batch_size)])
    h, w = shape or DEFAULT_SHAPES[kind]
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), img_id=i,
                    image_id=i)
        if kind == 'detection':
            ds = DetDataSample(metainfo=meta)
            n = 3
            xy = torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2])
            wh = torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2]) + 4
            boxes = torch.cat([xy, xy + wh], 1)
            masks = torch.zeros(n, h, w, dtype=torch.uint8)
            for j, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
                masks[j, y1:y2, x1:x2] = 1
            num_classes = len(task.class_names)
            ds.gt_instances = InstanceData(
                bboxes=boxes, labels=torch.randint(0, num_classes, (n, ), generator=g),
                masks=BitmapMasks(masks.numpy(), h, w))
        else:
            ds = DataSample(metainfo=meta)
            if kind == 'classification':
                ds.set_gt_label(int(torch.randint(0, len(task.class_names), (1, ),
                                                  generator=g)))
            elif kind == 'retrieval':
                if training:
                    ds.text = SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]
                else:
                    ds.text = list(SAMPLE_TEXTS)
                    ds.gt_text_id = [i * len(SAMPLE_TEXTS) + k for k in range(len(SAMPLE_TEXTS))]
                    ds.gt_image_id = [i] * len(SAMPLE_TEXTS)
            elif kind == 'captioning':
                ds.gt_caption = SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def resolve_device(name: str) -> torch.device:
    """``'auto'`` = CUDA when available, else CPU."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(name)
