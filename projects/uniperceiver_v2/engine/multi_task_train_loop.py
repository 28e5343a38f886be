"""Iteration-based multi-task training with unmixed task sampling (paper §4)."""
import bisect
import logging
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.dist import get_rank
from mmengine.logging import MessageHub, print_log
from mmengine.registry import LOOPS
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals

from .multi_task_data import MultiTaskDataLoaders, build_task_dataloaders, check_task_keys
from .task_sampler import build_task_sampler

#: MessageHub runtime-info keys this loop publishes.
TASK_INFO_KEY = 'task'
TASK_PROBS_INFO_KEY = 'task_sampling_probs'
TASK_SAMPLING_INFO_KEY = 'task_sampling'
TASK_SAMPLER_STATE_KEY = 'task_sampler_state'


@LOOPS.register_module()
class MultiTaskTrainLoop(BaseLoop):
    """Train several tasks, one per iteration, each from its own data loader.

    Every iteration ``t`` draws one task ``k`` with probability ``s_k`` (:class:`TaskSampler`; with
    ``sampling='unmixed'`` the draw is identical on every rank), takes the next batch of task
    ``k``'s own data loader (own dataset, pipeline, sampler, batch size; one persistent iterator per
    task, so switching tasks restarts nothing), adds ``batch['task'] = k``, publishes ``k`` as the
    MessageHub runtime info ``'task'`` and calls ``model.train_step``.  Losses are also logged per
    task as ``<task>/<loss name>``.

    Resume: the task sequence is a function of ``(seed, iteration)``, so after ``runner.resume``
    the loop recomputes how many batches each task consumed and advances each task's iterator by
    that many batches (as ``IterBasedTrainLoop`` does for its single loader).

    Config::

        train_dataloader = dict(cls=dict(batch_size=..., dataset=..., sampler=...),
                                caption=dict(...))
        train_cfg = dict(type='MultiTaskTrainLoop', max_iters=..., val_interval=...,
                         tasks=dict(cls=dict(sampling_weight=2.), caption=dict(sampling_weight=1.)),
                         sampling='unmixed', seed=None)
        # tasks reach different parameters: DDP must tolerate unused ones
        model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)

    Notes:
        - Use ``sampler=dict(type='InfiniteSampler')`` and, with ``num_workers > 0``,
          ``persistent_workers=True`` in every task's loader: the loop keeps one iterator per task,
          so each task's workers live for the whole run.
        - ``sampling='mixed'`` (ablation) lets ranks train different tasks in one iteration:
          neither gathered retrieval features (ranks would wait on each other) nor TBGN (ranks
          would scale one all-reduced gradient differently) can be used with it.
        - ``auto_scale_lr`` is refused: MMEngine scales by one loader's batch size.

    Args:
        runner (Runner): the runner.
        dataloader (Mapping[str, dict | DataLoader]): ``train_dataloader``, keyed by task.
        max_iters (int): total iterations.
        tasks (Mapping[str, dict]): ``train_cfg.tasks``: per task ``sampling_weight`` (default 1).
            Default: every task of ``train_dataloader`` with weight 1.
        sampling (str): ``'unmixed'`` (paper) or ``'mixed'`` (each rank draws independently).
        seed (int, optional): seed of the task draws; default the runner's seed (the same on all
            ranks).
        val_begin (int): first iteration that may validate.
        val_interval (int): validate every ``val_interval`` iterations.
        dynamic_intervals (list[tuple[int, int]], optional): as in ``IterBasedTrainLoop``.
    """

    def __init__(self,
                 runner,
                 dataloader: Mapping,
                 max_iters: int,
                 tasks: Optional[Mapping[str, dict]] = None,
                 sampling: str = 'unmixed',
                 seed: Optional[int] = None,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        self._runner = runner
        if dataloader is None:
            raise ValueError('train_dataloader is required by MultiTaskTrainLoop')
        if tasks is None:
            tasks = {name: dict() for name in dataloader} if isinstance(dataloader, Mapping) else {}
        check_task_keys(tasks, dataloader, 'train_cfg.tasks', 'train_dataloader')
        auto_scale_lr = getattr(runner, 'auto_scale_lr', None)
        if auto_scale_lr and auto_scale_lr.get('enable', False):
            raise ValueError(
                'auto_scale_lr is enabled, but MMEngine scales the lr from one train_dataloader '
                'batch size while MultiTaskTrainLoop has one batch size per task '
                f'({list(dataloader)}). Set the lr for your total batch in optim_wrapper.optimizer '
                'and auto_scale_lr.enable=False.')
        if int(max_iters) != max_iters or max_iters <= 0:
            raise ValueError(f'train_cfg.max_iters must be a positive integer, got {max_iters}')
        self._max_iters = int(max_iters)
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False

        self.sampler = build_task_sampler(
            tasks, seed=runner.seed if seed is None else seed, sampling=sampling, rank=get_rank())
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        loaders = build_task_dataloaders(runner, {k: dataloader[k] for k in tasks},
                                         'train_dataloader', diff_rank_seed)
        self.dataloaders = MultiTaskDataLoaders(loaders, length=self._max_iters)
        self.dataloader_iterators: Dict[str, _InfiniteDataloaderIterator] = {}

        self._publish_sampling(MessageHub.get_current_instance())

        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)

    @property
    def dataloader(self) -> MultiTaskDataLoaders:
        """Task -> data loader; ``len()`` is ``max_iters`` (what MMEngine hooks expect)."""
        return self.dataloaders

    @property
    def max_epochs(self) -> int:
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        return self._max_iters

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    def _publish_sampling(self, hub: MessageHub) -> None:
        """Publish ``s_k`` (``'task_sampling_probs'``, read by TBGN) and the sampling mode."""
        hub.update_info(TASK_PROBS_INFO_KEY, self.sampler.probabilities)
        hub.update_info(TASK_SAMPLING_INFO_KEY, self.sampler.sampling)

    def _start_iterators(self) -> None:
        """One infinite iterator per task; on resume, skip the batches already trained."""
        self.dataloader_iterators = {
            task: _InfiniteDataloaderIterator(loader) for task, loader in self.dataloaders.items()}
        hub = self.runner.message_hub
        self._publish_sampling(hub)  # a resumed MessageHub holds the checkpoint's values
        previous = hub.get_info(TASK_SAMPLER_STATE_KEY)
        if self._iter > 0 and previous is not None and previous != self.sampler.state():
            print_log(f'Resuming with a different task sampler ({previous} -> '
                      f'{self.sampler.state()}): the per-task data positions are recomputed with '
                      'the current one.', logger='current', level=logging.WARNING)
        hub.update_info(TASK_SAMPLER_STATE_KEY, self.sampler.state())
        if self._iter > 0:
            counts = self.sampler.counts(self._iter)
            print_log(f'Advance the task data loaders by {counts} batches to skip data that has '
                      'already been trained', logger='current', level=logging.WARNING)
            for task, n in counts.items():
                for _ in range(n):
                    next(self.dataloader_iterators[task])

    def run(self) -> torch.nn.Module:
        """Launch training."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        self._start_iterators()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            task = self.sampler.sample(self._iter)
            data_batch = self.tag_batch(next(self.dataloader_iterators[task]), task)
            self.run_iter(data_batch)

            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    @staticmethod
    def tag_batch(data_batch, task: str) -> dict:
        """The collated batch plus ``'task': task`` (a new dict; the loader's batch is kept)."""
        if not isinstance(data_batch, Mapping):
            raise TypeError(f'train_dataloader.{task}: the collated batch must be a dict to carry '
                            f"the 'task' key, got {type(data_batch).__name__}; use a "
                            'dict-producing collate_fn such as pseudo_collate or default_collate')
        return dict(data_batch, task=task)

    def run_iter(self, data_batch: dict) -> None:
        """Train one batch of task ``data_batch['task']``.

        Args:
            data_batch (dict): collated batch with key ``'task'``.
        """
        task = data_batch['task']
        self.runner.message_hub.update_info(TASK_INFO_KEY, task)
        self.runner.call_hook('before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        outputs = self.runner.model.train_step(data_batch, optim_wrapper=self.runner.optim_wrapper)
        if isinstance(outputs, Mapping):
            outputs = dict(outputs)
            outputs.update({f'{task}/{k}': v for k, v in list(outputs.items())})
        self.runner.call_hook('after_train_iter', batch_idx=self._iter, data_batch=data_batch,
                              outputs=outputs)
        self._iter += 1

    def _decide_current_val_interval(self) -> None:
        step = bisect.bisect(self.dynamic_milestones, (self._iter + 1))
        self.val_interval = self.dynamic_intervals[step - 1]
