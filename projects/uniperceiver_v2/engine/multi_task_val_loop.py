"""Multi-task validation: every task's loader with its own evaluator, metrics keyed by task."""
from typing import Dict, Mapping, Sequence, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import HistoryBuffer
from mmengine.registry import LOOPS
from mmengine.runner.amp import autocast
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _parse_losses, _update_losses

from ..utils.task_batch import TASK_KEY
from .multi_task_data import MultiTaskDataLoaders, build_task_dataloaders, check_task_keys


def prefix_metrics_with_task(evaluator: Evaluator, task: str) -> None:
    """Make every metric of ``evaluator`` report ``<task>/<name>``.

    A metric whose prefix is its class default (mmdet ``CocoMetric``: ``coco``) gets the task name
    instead (``coco_det/bbox_mAP``); a prefix set in the config is kept under the task
    (``coco_ret/i2t/Recall@1``).
    """
    for metric in evaluator.metrics:
        own = metric.prefix
        if own is None or own == getattr(metric, 'default_prefix', None):
            metric.prefix = task
        else:
            metric.prefix = f'{task}/{own}'


class _MultiTaskEvalLoop(BaseLoop):
    """Shared body of :class:`MultiTaskValLoop` and :class:`MultiTaskTestLoop`.

    Args:
        runner (Runner): the runner.
        dataloader (Mapping[str, dict | DataLoader]): task -> data loader (config).
        evaluator (Mapping[str, dict | list | Evaluator]): task -> evaluator (config), the same
            task names as ``dataloader``.
        fp16 (bool): run the model under autocast.
    """
    stage = 'val'

    def __init__(self,
                 runner,
                 dataloader: Mapping,
                 evaluator: Mapping,
                 fp16: bool = False) -> None:
        self._runner = runner
        dl_key, ev_key = f'{self.stage}_dataloader', f'{self.stage}_evaluator'
        if isinstance(evaluator, Evaluator) or not isinstance(evaluator, Mapping) \
                or 'type' in evaluator or 'metrics' in evaluator:
            raise TypeError(f'{ev_key} must be a dict keyed by task name '
                            f'(dict(<task>=<metric cfg or list>, ...)), got {evaluator!r:.200}')
        check_task_keys(evaluator, dataloader, ev_key, dl_key)
        loaders = build_task_dataloaders(runner, {k: dataloader[k] for k in evaluator}, dl_key)
        self.dataloaders = MultiTaskDataLoaders(loaders)
        self.evaluators: Dict[str, Evaluator] = {}
        for task, cfg in evaluator.items():
            ev = cfg if isinstance(cfg, Evaluator) else runner.build_evaluator(cfg)
            prefix_metrics_with_task(ev, task)
            meta = getattr(loaders[task].dataset, 'metainfo', None)
            if meta is not None:
                ev.dataset_meta = meta
            self.evaluators[task] = ev
        self.fp16 = fp16
        self.losses: Dict[str, Dict[str, HistoryBuffer]] = {}
        self._batch_idx = 0

    @property
    def dataloader(self) -> MultiTaskDataLoaders:
        """Task -> data loader; ``len()`` is the total number of batches of all tasks."""
        return self.dataloaders

    @property
    def evaluator(self) -> Dict[str, Evaluator]:
        """Task -> evaluator."""
        return self.evaluators

    def run(self) -> dict:
        """Evaluate every task; returns ``{'<task>/<metric>': value}`` over all tasks."""
        stage = self.stage
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        self.losses = {}
        self._batch_idx = 0
        metrics: Dict[str, float] = {}
        for task, loader in self.dataloaders.items():
            self.losses[task] = {}
            for data_batch in loader:
                if not isinstance(data_batch, Mapping):
                    raise TypeError(f'{stage}_dataloader.{task}: the collated batch must be a '
                                    f'dict, got {type(data_batch).__name__}')
                self.run_iter(self._batch_idx, {**data_batch, TASK_KEY: task})
                self._batch_idx += 1
            task_metrics = self.evaluators[task].evaluate(len(loader.dataset))
            if self.losses[task]:
                task_metrics.update({f'{task}/{k}': v for k, v in
                                     _parse_losses(self.losses[task], stage).items()})
            clash = set(task_metrics) & set(metrics)
            if clash:
                raise ValueError(f'{stage}_evaluator.{task} reports metric names already reported '
                                 f'by another task: {sorted(clash)}')
            metrics.update(task_metrics)
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        """Predict one batch of task ``data_batch['task']`` and feed its evaluator.

        Args:
            idx (int): running batch index over all tasks.
            data_batch (dict): collated batch with key ``'task'``.
        """
        stage = self.stage
        task = data_batch[TASK_KEY]
        self.runner.call_hook(f'before_{stage}_iter', batch_idx=idx, data_batch=data_batch)
        step = self.runner.model.val_step if stage == 'val' else self.runner.model.test_step
        with autocast(enabled=self.fp16):
            outputs = step(data_batch)
        outputs, self.losses[task] = _update_losses(outputs, self.losses[task])
        self.evaluators[task].process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(f'after_{stage}_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)


@LOOPS.register_module()
class MultiTaskValLoop(_MultiTaskEvalLoop):
    """Validation over several tasks, each with its own data loader and evaluator.

    Runs ``model.val_step`` on every batch of every task (batch dict plus ``'task'``), evaluates each task with its own evaluator
    (mmdet ``CocoMetric``, mmpretrain ``Accuracy``/``RetrievalRecall``, :class:`CaptionMetric`,
    ...) and reports every metric as ``<task>/<metric>`` so ``save_best='coco_det/bbox_mAP'`` works.
    Each metric gathers its results across ranks as usual (``BaseMetric.evaluate``).

    Config::

        val_dataloader = dict(cls=dict(<dataloader cfg>), caption=dict(...))
        val_evaluator = dict(cls=dict(type='mmpretrain.Accuracy'),
                             caption=dict(type='CaptionMetric'))
        val_cfg = dict(type='MultiTaskValLoop')

    Args: see :class:`_MultiTaskEvalLoop`.
    """
    stage = 'val'
