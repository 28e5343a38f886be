"""Iteration-based multi-task training with unmixed task sampling (paper §4)."""
import bisect
import logging
import os.path as osp
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.dist import barrier, broadcast_object_list, get_rank, get_world_size
from mmengine.dist import is_main_process
from mmengine.fileio import put
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import LOOPS
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import BatchSampler, DataLoader
from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

from ..datasets.resumable_batch_sampler import ResumableBatchSampler
from ..datasets.resumable_infinite_sampler import ResumableInfiniteSampler
from ..utils.iteration_seed import seed_iteration
from ..utils.task_batch import TASK_KEY
from .multi_task_train_state_hook import MultiTaskTrainStateHook
from .protocols import CollectiveLoss, TaskAwareOptimWrapper
from .train_step import MultiTaskTrainStep
from .preemption import PREEMPTED_EXIT_CODE, SigtermFlag, WorkerIgnoresSigterm
from .multi_task_data import MultiTaskDataLoaders, build_task_dataloaders, check_task_keys
from .task_sampler import build_task_sampler



@LOOPS.register_module()
class MultiTaskTrainLoop(BaseLoop):
    """Train several tasks, one per iteration, each from its own data loader.

    Every iteration ``t`` draws one task ``k`` with probability ``s_k`` (:class:`TaskSampler`; with
    ``sampling='unmixed'`` the draw is identical on every rank), takes the next batch of task
    ``k``'s own data loader (own dataset, pipeline, sampler, batch size; one persistent iterator per
    task, so switching tasks restarts nothing), adds ``batch['task'] = k`` and calls
    ``model.train_step``, which hands ``k`` on to the optimizer wrapper.  Losses are logged once
    each, as ``<task>/<loss name>``.

    The contract with the model and the optimizer wrapper (``protocols.py``), checked once before
    training: ``train_cfg.tasks`` is the only source of the sampling shares ``s_k``, handed to a
    :class:`~.protocols.TaskAwareOptimWrapper` (TBGN) through ``set_task_sampling``; such a
    wrapper needs a model whose ``train_step`` hands it each batch's task
    (:class:`~.train_step.MultiTaskTrainStep`); the task names must be the model's
    (``MultiTaskTrainStep.task_names``).  Every batch is tagged with a task of
    ``train_cfg.tasks``, so nothing downstream checks the name again.

    Several ranks: the task draw and the data samplers use rank 0's seed on every rank (also
    with ``randomness.diff_rank_seed=True``, which only makes the per-iteration random numbers
    differ between ranks).  Under ``sampling='mixed'`` ranks train different tasks in one
    iteration, so no module may enter a collective that only the ranks of one task reach;
    components that can (gathered retrieval negatives, cross-rank loss normalisers) are
    :class:`~.protocols.CollectiveLoss` modules, and the loop refuses to start, naming the config
    keys they report.

    Exact resume without loading skipped samples: checkpoints carry, per rank, how many samples
    each task's sampler has handed out; on resume a :class:`ResumableInfiniteSampler` under a
    plain batch sampler starts at its position in O(1); under a grouping batch sampler (mmdet's
    ``AspectRatioBatchSampler``, which holds indices back in its buckets) the loop wraps the
    batch sampler in :class:`ResumableBatchSampler`, which replays the index stream (no data
    loaded) and continues it.  Other samplers are advanced by drawing the skipped batches, with a
    warning.  Random numbers need no saved state: every iteration starts by
    seeding python, numpy and torch from ``(seed, rank, iteration)`` (:func:`seed_iteration`), so
    every later batch, noise draw and loss equals the uninterrupted run's.  Data-loader workers
    keep their own generators (seeded once per run): random augmentations are exact after a
    resume only with ``num_workers=0``.

    Preemption: SIGTERM (what Slurm sends before preemption or time-out) lets the current
    iteration finish; before the next one every rank agrees to stop, a checkpoint ``iter_<t>.pth``
    (``t`` iterations trained) is written
    atomically, ``last_checkpoint`` points to it (so ``--resume`` continues), and the process exits
    with status :data:`PREEMPTED_EXIT_CODE` (75).  Slurm signals every process of the job: data
    workers ignore SIGTERM (:class:`~.preemption.WorkerIgnoresSigterm`; one killed mid-transfer
    would block the main process forever); the batch fetched after the signal is not trained and
    its data position not advanced, and a batch whose worker died anyway is dropped the same way,
    so nothing is lost.

    Config::

        train_dataloader = dict(cls=dict(batch_size=..., dataset=..., sampler=dict(
                                    type='ResumableInfiniteSampler', shuffle=True)),
                                caption=dict(...))
        train_cfg = dict(type='MultiTaskTrainLoop', max_iters=..., val_interval=...,
                         tasks=dict(cls=dict(sampling_weight=2.), caption=dict(sampling_weight=1.)),
                         sampling='unmixed', seed=None)
        # tasks reach different parameters: DDP must tolerate unused ones
        model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel',
                                 find_unused_parameters=True)

    Notes:
        - With ``num_workers > 0`` use ``persistent_workers=True`` in every task's loader: the loop
          keeps one iterator per task, so each task's workers live for the whole run.
        - ``auto_scale_lr`` is refused: MMEngine scales by one loader's batch size.
        - Resuming reads MMEngine's own checkpoints, which torch's safe loader accepts only after
          ``uniperceiver_v2.utils.apply_compat()``: ``tools/train.py`` calls it; an entry point of
          your own that builds the ``Runner`` (the plugin loaded through ``custom_imports``)
          calls it once before ``runner.train()``.

    Args:
        runner (Runner): the runner.
        dataloader (Mapping[str, dict | DataLoader]): ``train_dataloader``, keyed by task.
        max_iters (int): total iterations.
        tasks (Mapping[str, dict]): ``train_cfg.tasks``: per task ``sampling_weight`` (default 1).
            Default: every task of ``train_dataloader`` with weight 1.
        sampling (str): ``'unmixed'`` (paper) or ``'mixed'`` (each rank draws independently).
        seed (int, optional): seed of the task draws and data samplers; default the runner's
            seed on rank 0 (broadcast, so the same on all ranks).
        val_begin (int): first iteration that may validate.
        val_interval (int): validate every ``val_interval`` iterations.
        dynamic_intervals (list[tuple[int, int]], optional): as in ``IterBasedTrainLoop``.
    """

    #: checkpoint key of the loop's own state (:meth:`train_state`)
    train_state_key = 'multi_task_train_loop'

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

        #: seed of the task draws and of the data samplers: the same on every rank
        self.shared_seed = self._shared_seed(runner.seed if seed is None else seed)
        self.sampler = build_task_sampler(
            tasks, seed=self.shared_seed, sampling=sampling, rank=get_rank())
        loaders = build_task_dataloaders(
            runner, {k: self.resumable_loader_cfg(dataloader[k]) for k in tasks},
            'train_dataloader', seed=self.shared_seed)
        for loader in loaders.values():  # SIGTERM is the main process's to handle
            loader.worker_init_fn = WorkerIgnoresSigterm(loader.worker_init_fn)
        self.dataloaders = MultiTaskDataLoaders(loaders, length=self._max_iters)
        self.dataloader_iterators: Dict[str, _InfiniteDataloaderIterator] = {}
        #: task -> samples this rank has drawn from the task's sampler (and every rank's)
        self.positions: Dict[str, int] = {task: 0 for task in self.dataloaders}
        self._rank_positions: List[Dict[str, int]] = [self.positions]
        self._resumed_state: Optional[dict] = None
        self._sigterm = SigtermFlag()

        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)
        runner.register_hook(MultiTaskTrainStateHook(self))

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

    # ------------------------------------------------------------------ before training
    @staticmethod
    def _shared_seed(seed: int) -> int:
        """Rank 0's ``seed``, on every rank.

        With ``randomness.diff_rank_seed=True`` MMEngine gives every rank its own seed
        (``seed + rank``); the task draw (unmixed: the same task on every rank) and the data
        samplers (one permutation split between ranks) must not follow it, or ranks train
        different tasks (a deadlock at the first per-task collective) and a resumed run reads
        other samples.  Per-iteration random numbers keep the rank's own seed
        (:func:`seed_iteration`).
        """
        shared = [int(seed)]
        broadcast_object_list(shared, src=0)
        return shared[0]

    def check_collectives(self) -> None:
        """Refuse mixed sampling on several ranks when a loss would enter a per-task collective."""
        world_size = get_world_size()
        if self.sampler.sampling != 'mixed' or world_size == 1:
            return
        offending = []
        for name, module in self._unwrapped_model().named_modules():
            if isinstance(module, CollectiveLoss):
                offending += [f'model.{name}.{key}' if name else f'model.{key}'
                              for key in module.collectives_in_loss()]
        if offending:
            raise ValueError(
                f"train_cfg.sampling='mixed' on {world_size} ranks: ranks train different tasks in "
                'one iteration, but these settings make a loss enter a cross-rank collective that '
                f'only the ranks of its task reach (a deadlock): {offending}. Set them to False.')

    def _unwrapped_model(self) -> torch.nn.Module:
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def check_tasks(self) -> None:
        """Check the tasks of ``train_cfg.tasks`` against the model, once, before training.

        Every batch the loop tags carries one of these names, so nothing downstream validates
        the task again.
        """
        model = self.runner.model
        if not isinstance(model, MultiTaskTrainStep):
            return
        known = model.task_names()
        unknown = [t for t in self.sampler.task_names if known is not None and t not in known]
        if unknown:
            raise KeyError(f'train_cfg.tasks has task(s) {unknown} that the model does not '
                           f'have (model.tasks: {known})')

    def _hand_sampling_to_optimizer(self) -> None:
        """Give ``s_k`` and the sampling mode to a task-aware optimizer wrapper (TBGN).

        ``train_cfg.tasks`` is the only source of ``s_k``; the wrapper receives it here, once.
        """
        optim_wrapper = self.runner.optim_wrapper
        if not isinstance(optim_wrapper, TaskAwareOptimWrapper):
            return
        if not isinstance(self.runner.model, MultiTaskTrainStep):
            raise TypeError(
                f'optim_wrapper.type={type(optim_wrapper).__name__} needs the task of every '
                f'batch, but the model ({type(self.runner.model).__name__}) does not hand it on: '
                'its train_step must be uniperceiver_v2.engine.MultiTaskTrainStep\'s (under DDP '
                "set model_wrapper_cfg.type='MultiTaskDistributedDataParallel')")
        optim_wrapper.set_task_sampling(self.sampler.probabilities, self.sampler.sampling)

    # ------------------------------------------------------------------ resume
    @staticmethod
    def _batch_sampler(task: str, loader: DataLoader) -> BatchSampler:
        if not isinstance(loader.batch_sampler, BatchSampler):
            raise TypeError(f'train_dataloader.{task}: MultiTaskTrainLoop needs batched loading '
                            f'(batch_size or a BatchSampler), got {loader.batch_sampler!r}')
        return loader.batch_sampler

    @classmethod
    def _batch_size(cls, task: str, loader: DataLoader) -> int:
        return int(cls._batch_sampler(task, loader).batch_size)

    def train_state(self) -> dict:
        """What a checkpoint needs for an exact resume (rank 0 writes checkpoints; no collective).

        Returns:
            dict: ``world_size``, ``sampler`` (what determines the task sequence) and
            ``positions``: per rank, task -> samples drawn from its sampler.  Under unmixed
            sampling every rank draws the same tasks, so positions are equal; under mixed
            sampling each rank's are tracked (:meth:`_advance_positions`).
        """
        world_size = get_world_size()
        if self.sampler.sampling == 'mixed':
            positions = [dict(p) for p in self._rank_positions]
        else:
            positions = [dict(self.positions)] * world_size
        return dict(world_size=world_size, sampler=self.sampler.state(), positions=positions)

    def load_train_state(self, state: Optional[dict]) -> None:
        """Keep a checkpoint's :meth:`train_state` for :meth:`run` (None: an older checkpoint)."""
        self._resumed_state = state

    def _advance_positions(self, iteration: int, task: str) -> None:
        """Count the samples every rank drew at ``iteration`` (this rank's ``task`` batch and,
        under mixed sampling, the other ranks' draws; this rank's in :attr:`positions`)."""
        if self.sampler.sampling != 'mixed':
            self.positions[task] += self._batch_size(task, self.dataloaders[task])
            return
        for rank, positions in enumerate(self._rank_positions):
            task = self.sampler.sample(iteration, rank)
            positions[task] += self._batch_size(task, self.dataloaders[task])
        self.positions = self._rank_positions[get_rank()]

    def _resume_positions(self) -> Dict[str, int]:
        """Every rank's per-task positions from the resumed checkpoint; this rank's are returned."""
        state = self._resumed_state
        world_size = get_world_size()
        if state is None:  # a checkpoint without loop state: recompute from the task sequence
            print_log('The checkpoint has no multi-task loop state; data positions are recomputed '
                      'from the task sequence.', logger='current', level=logging.WARNING)
            self._rank_positions = [
                {t: n * self._batch_size(t, self.dataloaders[t])
                 for t, n in self.sampler.counts(self._iter, rank=r).items()}
                for r in range(world_size)]
        else:
            if state['sampler'] != self.sampler.state():
                print_log(f"Resuming with a different task sampler ({state['sampler']} -> "
                          f'{self.sampler.state()}): the task sequence changes from here on.',
                          logger='current', level=logging.WARNING)
            if state['world_size'] != world_size:
                print_log(f"Resuming {state['world_size']}-rank training on {world_size} ranks: "
                          "each rank continues from a saved rank's data position; not an exact "
                          'resume.', logger='current', level=logging.WARNING)
            saved = state['positions']
            self._rank_positions = [dict(saved[r % len(saved)]) for r in range(world_size)]
            missing = set(self.dataloaders) - set(self._rank_positions[0])
            if missing:
                raise KeyError(f'The resumed checkpoint has no data position for task(s) '
                               f'{sorted(missing)} (train_dataloader changed since it was written)')
        return self._rank_positions[get_rank()]

    @staticmethod
    def resumable_loader_cfg(cfg):
        """``cfg`` with its ``batch_sampler`` wrapped in ``ResumableBatchSampler`` when its sampler
        is a ``ResumableInfiniteSampler`` (so a grouping batch sampler such as mmdet's
        ``AspectRatioBatchSampler`` resumes exactly); other configs and loaders are returned as
        they are.

        Args:
            cfg (dict | DataLoader): one task's ``train_dataloader`` entry.
        """
        if not isinstance(cfg, Mapping):
            return cfg
        sampler, batch_sampler = cfg.get('sampler'), cfg.get('batch_sampler')
        if not (isinstance(sampler, Mapping) and isinstance(batch_sampler, Mapping)):
            return cfg
        if sampler.get('type') not in ('ResumableInfiniteSampler', ResumableInfiniteSampler) \
                or batch_sampler.get('type') in ('ResumableBatchSampler', ResumableBatchSampler):
            return cfg
        return {**cfg, 'batch_sampler': dict(type='ResumableBatchSampler',
                                             batch_sampler=dict(batch_sampler))}

    def _seek(self, task: str, loader: DataLoader, position: int) -> bool:
        """Make ``loader``'s next iterator start after ``position`` samples without loading them.

        Returns:
            bool: False when its sampler cannot start there (the caller draws the batches).
        """
        batch_sampler = self._batch_sampler(task, loader)
        if isinstance(batch_sampler, ResumableBatchSampler):
            batch_sampler.skip(position // batch_sampler.batch_size)
            return True
        # a plain BatchSampler cuts the index stream into consecutive batches: O(1)
        if type(batch_sampler) is BatchSampler and \
                isinstance(batch_sampler.sampler, ResumableInfiniteSampler):
            batch_sampler.sampler.set_position(position)
            return True
        return False

    def _start_iterators(self) -> None:
        """One infinite iterator per task, each starting at its saved position on resume."""
        self._rank_positions = [{task: 0 for task in self.dataloaders}
                                for _ in range(get_world_size())]
        if self._iter > 0:
            self.positions = self._resume_positions()
        else:
            self.positions = self._rank_positions[get_rank()]
        replay = {}
        for task, loader in self.dataloaders.items():
            if self._iter > 0 and not self._seek(task, loader, self.positions[task]):
                replay[task] = self.positions[task] // self._batch_size(task, loader)
        self.dataloader_iterators = {
            task: _InfiniteDataloaderIterator(loader) for task, loader in self.dataloaders.items()}
        if replay:
            print_log(f'Advancing data loaders {sorted(replay)} by drawing {replay} batches (use '
                      "sampler=dict(type='ResumableInfiniteSampler') to resume without loading "
                      'them)', logger='current', level=logging.WARNING)
            for task, n in replay.items():
                for _ in range(n):
                    next(self.dataloader_iterators[task])

    # ------------------------------------------------------------------ preemption
    def _checkpoint_and_exit(self) -> None:
        """Write ``iter_<t>.pth`` (atomically) and ``last_checkpoint``, then exit with status 75.

        Called between iterations: ``t`` = ``self.iter`` iterations are trained.
        """
        runner = self.runner
        filename = f'iter_{self._iter}.pth'
        print_log(f'SIGTERM received: saving {filename} after iteration {self._iter} and exiting '
                  f'with status {PREEMPTED_EXIT_CODE}; continue with --resume', logger='current',
                  level=logging.WARNING)
        runner.save_checkpoint(runner.work_dir, filename, save_optimizer=True,
                               save_param_scheduler=True,
                               meta=dict(epoch=self._epoch, iter=self._iter))
        if is_main_process():
            put(osp.join(runner.work_dir, filename).encode(),
                osp.join(runner.work_dir, 'last_checkpoint'))
        barrier()
        raise SystemExit(PREEMPTED_EXIT_CODE)

    # ------------------------------------------------------------------ training
    def run(self) -> torch.nn.Module:
        """Launch training."""
        self.check_collectives()
        self.check_tasks()
        self._hand_sampling_to_optimizer()
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        with self._sigterm:
            try:
                self._start_iterators()
                self._train_until_done()
            finally:
                self._shutdown_workers()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _train_until_done(self) -> None:
        """Iterations (and validation) up to ``max_iters`` or preemption."""
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            seed_iteration(self.runner.seed, get_rank(), self._iter)
            task = self.sampler.sample(self._iter)
            batch = self._next_batch(task)
            if self._sigterm.requested():  # every rank stops before the same iteration
                self._checkpoint_and_exit()
            self._advance_positions(self._iter, task)
            self.run_iter(self.tag_batch(batch, task))

            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()

    def _shutdown_workers(self) -> None:
        """Stop the train loaders' data workers, however training ends.

        They ignore SIGTERM (:class:`~.preemption.WorkerIgnoresSigterm`), and at interpreter exit
        ``multiprocessing`` terminates daemonic children with SIGTERM and joins them: persistent
        workers still alive then would keep the process waiting forever.  torch has no public call
        for this; its multi-process iterator's own ``_shutdown_workers`` (what its ``__del__``
        runs) does it.
        """
        for loader in self.dataloaders.values():
            iterator = loader._iterator  # persistent_workers=True keeps it here
            if isinstance(iterator, _MultiProcessingDataLoaderIter):
                iterator._shutdown_workers()
            loader._iterator = None
        for iterator in self.dataloader_iterators.values():  # non-persistent workers
            inner = iterator._iterator
            if isinstance(inner, _MultiProcessingDataLoaderIter):
                inner._shutdown_workers()
        self.dataloader_iterators = {}

    def _next_batch(self, task: str):
        """The next batch of ``task``; None if its data worker died of the SIGTERM we received."""
        try:
            return next(self.dataloader_iterators[task])
        except RuntimeError:
            if not self._sigterm.received:
                raise
            return None

    @staticmethod
    def tag_batch(data_batch, task: str) -> dict:
        """The collated batch plus ``'task': task`` (a new dict; the loader's batch is kept)."""
        if not isinstance(data_batch, Mapping):
            raise TypeError(f'train_dataloader.{task}: the collated batch must be a dict to carry '
                            f"the '{TASK_KEY}' key, got {type(data_batch).__name__}; use a "
                            'dict-producing collate_fn such as pseudo_collate or default_collate')
        return {**data_batch, TASK_KEY: task}

    def run_iter(self, data_batch: dict) -> None:
        """Train one batch of task ``data_batch['task']``.

        Args:
            data_batch (dict): collated batch with key ``'task'``.
        """
        task = data_batch[TASK_KEY]
        self.runner.call_hook('before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        outputs = self.runner.model.train_step(data_batch, optim_wrapper=self.runner.optim_wrapper)
        if isinstance(outputs, Mapping):  # each loss once, under its task's name
            outputs = {f'{task}/{k}': v for k, v in outputs.items()}
        self.runner.call_hook('after_train_iter', batch_idx=self._iter, data_batch=data_batch,
                              outputs=outputs)
        self._iter += 1

    def _decide_current_val_interval(self) -> None:
        step = bisect.bisect(self.dynamic_milestones, (self._iter + 1))
        self.val_interval = self.dynamic_intervals[step - 1]
