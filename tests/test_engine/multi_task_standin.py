"""A tiny multi-task stand-in model and toy datasets for the loop tests (not the UPv2 model).

Tasks: ``cls`` (3-way classification), ``ret`` (image-text retrieval with gathered negatives),
``cap`` (captioning by template, for the caption metric).  The model follows the plugin's data
contract: the batch dict carries ``'task'``, ``forward`` takes ``task=`` and ``train_step``
(``MultiTaskTrainStep``'s, as ``UniPerceiverV2``'s) hands the task to the optimizer wrapper.
"""
import os
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch import nn
from torch.utils.data import Dataset

from uniperceiver_v2.engine import CollectiveLoss, MultiTaskTrainStep
from uniperceiver_v2.utils import all_gather_with_grad

WORDS = ['red', 'green', 'blue']


@DATASETS.register_module()
class ToyTaskDataset(Dataset):
    """``n`` items of task ``task``: 8-d input, class label, paired 8-d "text", caption."""

    def __init__(self, task: str, n: int = 16, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.task = task
        self.x = torch.randn(n, 8, generator=g)
        w = torch.randn(8, 3, generator=g)
        self.label = (self.x @ w).argmax(1)
        self.text = self.x @ torch.randn(8, 8, generator=g) + 0.05 * torch.randn(n, 8, generator=g)
        self.metainfo = dict(task=task, classes=WORDS)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], label=self.label[i], text=self.text[i], index=i,
                    image_id=i, gt_caption=f'a {WORDS[int(self.label[i])]} thing',
                    pid=os.getpid())


@MODELS.register_module()
class StandInMultiTaskModel(MultiTaskTrainStep, BaseModel, CollectiveLoss):
    """Shared trunk + per-task heads; the ``ret`` task gathers features across ranks."""

    def __init__(self, gather_features: bool = True) -> None:
        super().__init__(data_preprocessor=dict(type='BaseDataPreprocessor'))
        self.trunk = nn.Sequential(nn.Linear(8, 32), nn.Tanh())
        self.cls_head = nn.Linear(32, 3)
        self.img_proj = nn.Linear(32, 16)
        self.txt_proj = nn.Linear(8, 16)
        self.gather_features = gather_features

    def collectives_in_loss(self) -> List[str]:
        return ['gather_features'] if self.gather_features else []

    def forward(self, inputs, label=None, text=None, task: Optional[str] = None,
                mode: str = 'tensor', **kwargs):
        if task is None:
            raise ValueError('StandInMultiTaskModel.forward needs task=')
        h = self.trunk(inputs)
        if task in ('cls', 'cap'):
            logits = self.cls_head(h)
            if mode == 'loss':
                return {'loss_cls': F.cross_entropy(logits, label)}
            return self._predict_cls(logits, label, task, kwargs)
        img = F.normalize(self.img_proj(h), dim=-1)
        txt = F.normalize(self.txt_proj(text), dim=-1)
        if mode == 'loss':
            img_all = all_gather_with_grad(img) if self.gather_features else img
            txt_all = all_gather_with_grad(txt) if self.gather_features else txt
            offset = get_rank() * img.shape[0] if self.gather_features else 0
            target = torch.arange(img.shape[0]) + offset
            loss = F.cross_entropy(img @ txt_all.t() / 0.1, target) + \
                F.cross_entropy(txt @ img_all.t() / 0.1, target)
            return {'loss_itc': loss / 2, 'num_candidates': torch.tensor(float(len(txt_all)))}
        scores = img @ txt.t()
        return [DataSample().set_pred_score(s).set_gt_label(i) for i, s in enumerate(scores)]

    @staticmethod
    def _predict_cls(logits, label, task, extra) -> List[DataSample]:
        out = []
        for i, row in enumerate(logits.softmax(-1)):
            ds = DataSample().set_pred_score(row).set_gt_label(label[i])
            if task == 'cap':
                ds.set_field(f'a {WORDS[int(row.argmax())]} thing', 'pred_caption',
                             field_type='metainfo')
                ds.set_field(int(extra['image_id'][i]), 'image_id', field_type='metainfo')
                ds.set_field(extra['gt_caption'][i], 'gt_caption', field_type='metainfo')
            out.append(ds)
        return out


class RecordHook(Hook):
    """Records, per training iteration, the task, the sample indices and the losses."""
    priority = 'VERY_HIGH'

    def __init__(self, stop_at: Optional[int] = None) -> None:
        self.tasks, self.indices, self.losses, self.pids = [], [], [], []
        self.val_metrics: List[dict] = []
        self.stop_at = stop_at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.tasks.append(data_batch['task'])
        self.indices.append(data_batch['index'].tolist())
        self.pids.append(set(data_batch['pid'].tolist()))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        task = data_batch['task']
        key = 'loss_cls' if task in ('cls', 'cap') else 'loss_itc'
        assert key not in outputs  # each loss logged once, under its task
        self.losses.append((task, float(torch.as_tensor(outputs[f'{task}/{key}']).detach())))
        if self.stop_at is not None and runner.iter + 1 >= self.stop_at:
            runner.train_loop.stop_training = True

    def after_val_epoch(self, runner, metrics=None):
        self.val_metrics.append(dict(metrics))
