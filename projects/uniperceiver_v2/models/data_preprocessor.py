"""Data preprocessor of UniPerceiverV2: mmdet's, plus the batch's ``task`` key and text-only batches.

Subclasses mmdet's ``DetDataPreprocessor`` so images, boxes and masks are normalised and padded
the same way for every task; works for mmpretrain ``DataSample`` too (samples without
``gt_instances`` are left alone).  The ``task`` key of the data batch (added by the multi-task train
loop) is passed on to ``UniPerceiverV2.forward(..., task=...)``.
"""
from typing import Sequence

from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS

from ..utils.task_batch import TASK_KEY


@MODELS.register_module()
class UniPerceiverV2DataPreprocessor(DetDataPreprocessor):
    """``DetDataPreprocessor`` that keeps the batch's ``task`` and accepts text-only batches.

    Args:
        **kwargs: ``DetDataPreprocessor`` arguments (mean, std, bgr_to_rgb, pad_size_divisor,
            pad_mask, ...).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """
        Args:
            data (dict): ``inputs`` (list of ``(3, H, W)`` uint8 images; absent or None for
                text-only batches), ``data_samples`` and optionally ``task`` (str).

        Returns:
            dict: ``inputs`` ``(B, 3, H, W)`` float (None for text-only), ``data_samples`` and,
            when given, ``task``.
        """
        task = data.get(TASK_KEY)
        if data.get('inputs') is None or (isinstance(data['inputs'], (list, tuple))
                                          and len(data['inputs']) == 0):
            out = {'inputs': None, 'data_samples': self.cast_data(data.get('data_samples'))}
        else:
            out = super().forward(data, training)
        if task is not None:
            if isinstance(task, (list, tuple)):  # collated per-sample task names
                names = set(task)
                if len(names) != 1:
                    raise ValueError(f'UniPerceiverV2DataPreprocessor: a batch mixes tasks {names}')
                task = names.pop()
            out[TASK_KEY] = task
        return out

    def pad_gt_masks(self, batch_data_samples: Sequence) -> None:
        """Pad ``gt_instances.masks`` of the samples that have them (mmpretrain samples do not)."""
        for ds in batch_data_samples:
            if 'gt_instances' in ds and 'masks' in ds.gt_instances:
                ds.gt_instances.masks = ds.gt_instances.masks.pad(ds.batch_input_shape,
                                                                  pad_val=self.mask_pad_value)
