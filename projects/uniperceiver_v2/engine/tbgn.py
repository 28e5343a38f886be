"""MMEngine shell around the :class:`~.tbgn_optimizer.TBGN` optimizer (paper §4)."""
import logging
import math
from typing import Dict, Mapping, Optional, Tuple

import torch
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from torch import Tensor
from torch.optim import Optimizer

from .protocols import TaskAwareOptimWrapper
from .tbgn_optimizer import TBGN, task_table

# ``optimizer=dict(type='TBGN', ...)`` also works, e.g. under MMEngine's plain ``OptimWrapper`` for
# a single task (ω = s = 1).
OPTIMIZERS.register_module(module=TBGN)

MIXED_SAMPLING_ERROR = (
    'TBGN needs unmixed sampling (train_cfg.sampling="unmixed"): with mixed sampling every rank '
    'trains another task and the ranks would apply different ω_k/s_k to the same all-reduced '
    'gradient')

#: keys of a ``torch.optim.AdamW`` param group that TBGN does not take over
_ADAMW_ONLY_KEYS = ('amsgrad', 'maximize', 'capturable', 'differentiable', 'fused',
                    'decoupled_weight_decay')


def as_tbgn(optimizer: Optimizer) -> TBGN:
    """``optimizer`` itself if it is a :class:`TBGN`, else a TBGN over an AdamW's param groups.

    Args:
        optimizer (TBGN | torch.optim.AdamW): e.g. built from ``optim_wrapper.optimizer``.
    """
    if isinstance(optimizer, TBGN):
        return optimizer
    if not isinstance(optimizer, torch.optim.AdamW):
        raise TypeError("optim_wrapper.optimizer.type must be 'AdamW' or 'TBGN' for TBGN (its "
                        'update is AdamW on the normalised gradient), got '
                        f'{type(optimizer).__name__}')
    groups = []
    for group in optimizer.param_groups:
        if group.get('amsgrad', False) or group.get('maximize', False):
            raise ValueError('optim_wrapper.optimizer: TBGN supports neither amsgrad nor maximize')
        groups.append({k: v for k, v in group.items() if k not in _ADAMW_ONLY_KEYS})
    tbgn = TBGN(groups, **{k: optimizer.defaults[k]
                           for k in ('lr', 'betas', 'eps', 'weight_decay', 'foreach')})
    tbgn.state.update(optimizer.state)
    return tbgn


@OPTIM_WRAPPERS.register_module()
class TBGNOptimWrapper(OptimWrapper, TaskAwareOptimWrapper):
    """Task-Balanced Gradient Normalization under MMEngine: a thin shell over :class:`TBGN`.

    ``optim_wrapper.optimizer`` (``type='AdamW'`` or ``'TBGN'``) becomes :attr:`optimizer`, a
    :class:`TBGN` (equations in ``tbgn_optimizer.py``), which holds the task tables and looks up
    ω_k and s_k of each step's task; this wrapper fills the tables and logs ``train/grad_norm``.
    The task is passed explicitly: ``update_params(loss, task=...)`` / ``step(task=...)`` - the
    model's ``train_step`` passes ``batch['task']``, which ``train_cfg.type='MultiTaskTrainLoop'``
    puts in every batch.

    One source for each factor:

    * ω_k: ``optim_wrapper.task_weights`` (or, equivalently, ``optim_wrapper.optimizer.
      task_weights`` of a ``type='TBGN'`` optimizer; both set and different is an error).
    * s_k: ``train_cfg.tasks.<task>.sampling_weight`` only, handed in by the training loop
      through :meth:`set_task_sampling` before training.  A ``type='TBGN'`` optimizer's own
      ``sampling_probs`` (its plain-PyTorch argument) must then agree with it, or training stops
      with an error naming both keys.

    A step leaves ``p.grad`` as it was.  The state dict is the optimizer's: AdamW's plus
    ``'tbgn'`` (task step counts, skipped steps); checkpoints of the former fused implementation
    (second moment stored rescaled, ``'tbgn'.'sq_scales'``) are converted on load.

    Config (``constructor`` keeps TBGN under mmdet's ``tools/train.py --amp``)::

        optim_wrapper = dict(
            type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.95), weight_decay=0.2),
            task_weights=dict(cls=1., caption=1.))     # ω_k; None: all 1
        train_cfg = dict(type='MultiTaskTrainLoop', ...,  # s_k
                         tasks=dict(cls=dict(sampling_weight=1.), caption=dict(sampling_weight=1.)))

    Args:
        optimizer (TBGN | torch.optim.AdamW): supplies param groups, hyper-parameters and state.
        task_weights (dict[str, float], optional): ω_k per task; ``None`` means 1 for every task.
        sampling_weights: removed; must be None (s_k comes from ``train_cfg.tasks``).
        accumulative_counts (int): must be 1 (accumulating would mix tasks in one step).
        clip_grad (dict, optional): must be None (normalisation supersedes clipping).
    """

    def __init__(self,
                 optimizer: Optimizer,
                 task_weights: Optional[Mapping[str, float]] = None,
                 sampling_weights: Optional[Mapping[str, float]] = None,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None) -> None:
        if sampling_weights is not None:
            raise ValueError(
                'optim_wrapper.sampling_weights is not supported: TBGN takes s_k from '
                'train_cfg.tasks.<task>.sampling_weight (the training loop hands it in); remove '
                f'optim_wrapper.sampling_weights={dict(sampling_weights)} and set the weights there')
        if accumulative_counts != 1:
            raise ValueError('optim_wrapper.accumulative_counts must be 1 for TBGN: each step '
                             'normalises the gradient of exactly one task')
        if clip_grad is not None:
            raise ValueError('optim_wrapper.clip_grad must be None for TBGN: the gradient is '
                             'normalised to norm ω_k, which supersedes clipping')
        tbgn = as_tbgn(optimizer)
        super().__init__(optimizer=tbgn, accumulative_counts=1, clip_grad=None)
        omegas = task_table(task_weights, 'optim_wrapper.task_weights')
        if omegas is not None and tbgn.task_weights is not None and omegas != tbgn.task_weights:
            raise ValueError(
                f'optim_wrapper.task_weights {omegas} and optim_wrapper.optimizer.task_weights '
                f'{tbgn.task_weights} disagree; set ω_k in one of them')
        if omegas is not None:
            tbgn.task_weights = omegas
        #: s_k of a ``type='TBGN'`` optimizer's own ``sampling_probs`` (must match the loop's)
        self._optimizer_sampling_probs = tbgn.sampling_probs
        #: the loop's sampling mode, once :meth:`set_task_sampling` has run
        self.sampling: Optional[str] = None

    @property
    def task_weights(self) -> Optional[Dict[str, float]]:
        """ω_k per task (None: 1 for every task)."""
        return self.optimizer.task_weights

    @property
    def sampling_probs(self) -> Optional[Dict[str, float]]:
        """s_k per task, from ``train_cfg.tasks`` (None before :meth:`set_task_sampling`)."""
        return self.optimizer.sampling_probs if self.sampling is not None else None

    # ------------------------------------------------------------------ task factors
    def set_task_sampling(self, probabilities: Mapping[str, float],
                          sampling: str = 'unmixed') -> None:
        """Take the loop's task sampling: s_k, and whether every rank trains the same task.

        The tasks are checked here, once: every task the loop draws needs a weight ω_k when
        ``optim_wrapper.task_weights`` is set.

        Args:
            probabilities (Mapping[str, float]): task -> sampling weight (``train_cfg.tasks``,
                normalised to s_k).
            sampling (str): ``'unmixed'`` (every rank trains the same task) or ``'mixed'``.
        """
        if sampling not in ('unmixed', 'mixed'):
            raise ValueError(f"train_cfg.sampling must be 'unmixed' or 'mixed', got {sampling!r}")
        if sampling == 'mixed' and get_world_size() > 1:
            raise RuntimeError(MIXED_SAMPLING_ERROR)
        probs = task_table(probabilities, 'train_cfg.tasks', normalise=True)
        configured = self._optimizer_sampling_probs
        if configured is not None and (set(configured) != set(probs) or any(
                not math.isclose(configured[t], probs[t], rel_tol=1e-6) for t in probs)):
            raise ValueError(
                f'optim_wrapper.optimizer.sampling_probs {configured} differ from the sampling '
                f'shares of train_cfg.tasks {probs}: under MultiTaskTrainLoop s_k comes from '
                'train_cfg.tasks.<task>.sampling_weight; remove optim_wrapper.optimizer.'
                'sampling_probs')
        omegas = self.optimizer.task_weights
        trained = [t for t, p in probs.items() if p > 0]
        if omegas is not None and set(trained) - set(omegas):
            raise KeyError(f'optim_wrapper.task_weights has no entry for task(s) '
                           f'{sorted(set(trained) - set(omegas))} of train_cfg.tasks '
                           f'(has {sorted(omegas)})')
        self.optimizer.sampling_probs = probs
        self.sampling = sampling

    def task_factors(self, task: str) -> Tuple[float, float]:
        """(ω_k, s_k) of ``task`` (the optimizer's lookup).

        Args:
            task (str): a task of ``train_cfg.tasks``.
        """
        return self.optimizer.task_factors(task)

    # ------------------------------------------------------------------ update
    def update_params(self,  # type: ignore[override]
                      loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None,
                      *,
                      task: Optional[str] = None) -> None:
        """Backward ``loss`` (of task ``task``) and take one TBGN step.

        Args:
            loss (Tensor): the batch's loss.
            step_kwargs (dict, optional): extra arguments of :meth:`step` (e.g. ``task``).
            zero_kwargs (dict, optional): arguments of ``zero_grad``.
            task (str): the batch's task (``batch['task']``).
        """
        step_kwargs = dict(step_kwargs or {})
        if task is not None:
            step_kwargs['task'] = task
        super().update_params(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)

    def _check_ready(self, task: Optional[str], kwargs: dict) -> None:
        """Raise, naming what to configure, when a step lacks its task or the loop's s_k."""
        if kwargs:
            raise TypeError(f'{type(self).__name__}.step got unexpected arguments {sorted(kwargs)}')
        if task is None:
            raise ValueError(
                "TBGN needs the batch's task: call optim_wrapper.update_params(loss, task=...) "
                "(the model's train_step passes batch['task'], which train_cfg.type="
                "'MultiTaskTrainLoop' puts in every batch)")
        if self.sampling is None:
            raise ValueError(
                f"TBGN has no sampling probability s_k for task '{task}': set "
                "train_cfg.tasks.<task>.sampling_weight with train_cfg.type='MultiTaskTrainLoop', "
                'which hands it in through set_task_sampling before training')

    def step(self, task: Optional[str] = None, **kwargs) -> None:  # type: ignore[override]
        """One TBGN step on the gradients in ``p.grad`` (``optimizer.step``, so hooks run).

        Args:
            task (str): the task of these gradients.
        """
        self._check_ready(task, kwargs)
        self.tbgn_step(task)

    def tbgn_step(self, task: str) -> None:
        """``optimizer.step(task=task)`` (one ω_k / s_k lookup) and log the norm or skipped step.

        Args:
            task (str): the task.
        """
        skipped = self.optimizer.skipped_steps
        self.optimizer.step(task=task)
        norm = self.optimizer.last_grad_norm
        if self.optimizer.skipped_steps > skipped:
            print_log(f'TBGN: non-finite gradient norm ({norm}) for task {task!r}; step skipped '
                      f'({self.optimizer.skipped_steps} skipped so far)', logger='current',
                      level=logging.WARNING)
            self.message_hub.update_scalar('train/tbgn_skipped_steps',
                                           self.optimizer.skipped_steps)
        elif norm is not None:
            self.message_hub.update_scalar('train/grad_norm', norm)

    # ------------------------------------------------------------------ state
    @property
    def task_steps(self) -> Dict[str, int]:
        """Applied steps per task."""
        return self.optimizer.task_steps

    @property
    def skipped_steps(self) -> int:
        """Steps skipped for a non-finite gradient."""
        return self.optimizer.skipped_steps

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a TBGN or AdamW state dict; converts the former fused implementation's one.

        That implementation stored the second moment as ``j·n`` with ``j`` per param group in
        ``state_dict['tbgn']['sq_scales']``; it is divided out here.

        Args:
            state_dict (dict): the optimizer state dict.
        """
        tbgn = state_dict.get('tbgn') or {}
        sq_scales = tbgn.get('sq_scales')
        if sq_scales:
            state_dict = dict(state_dict, tbgn={k: v for k, v in tbgn.items()
                                                if k != 'sq_scales'})
            state_dict['state'] = {k: dict(v) for k, v in state_dict['state'].items()}
            for index, group in enumerate(state_dict['param_groups']):
                j = float(sq_scales.get(index, sq_scales.get(str(index), 1.0)))
                for key in group['params']:
                    if 'exp_avg_sq' in state_dict['state'].get(key, {}):
                        state_dict['state'][key]['exp_avg_sq'] = \
                            state_dict['state'][key]['exp_avg_sq'] / j
        super().load_state_dict(state_dict)

    def __repr__(self) -> str:
        return (f'{super().__repr__()}task_weights: {self.task_weights}\n'
                f'sampling_probs: {self.sampling_probs}\n')
