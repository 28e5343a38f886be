"""Which task each training iteration trains (paper §4, "unmixed sampling")."""
from typing import Dict, List, Mapping, Optional

import numpy as np

SAMPLING_MODES = ('unmixed', 'mixed')


class TaskSampler:
    """Draw the task of every iteration with probability ``s_k``.

    The draw of iteration ``t`` is a pure function of ``(seed, t)`` (``unmixed``: the paper's
    strategy, every rank trains the same task) or of ``(seed, rank, t)`` (``mixed``: every rank
    draws on its own, as Uni-Perceiver v1 did; the paper's ablation).  No generator state is
    carried from one iteration to the next, so every rank agrees without communication and a
    resumed run continues the exact task sequence from its iteration number alone.

    ``s_k = w_k / sum_j w_j`` where ``w_k`` are the configured sampling weights.

    Args:
        sampling_weights (Mapping[str, float]): task name -> non-negative weight ``w_k``
            (``train_cfg.tasks.<task>.sampling_weight``); at least one must be positive.
        seed (int): seed shared by all ranks.
        sampling (str): ``'unmixed'`` or ``'mixed'``.
        rank (int): this process' rank (only used by ``'mixed'``).
    """

    def __init__(self,
                 sampling_weights: Mapping[str, float],
                 seed: int,
                 sampling: str = 'unmixed',
                 rank: int = 0) -> None:
        if sampling not in SAMPLING_MODES:
            raise ValueError(f'train_cfg.sampling must be one of {SAMPLING_MODES}, '
                             f'got {sampling!r}')
        if not sampling_weights:
            raise ValueError('train_cfg.tasks is empty: at least one task is needed')
        weights = []
        for name, w in sampling_weights.items():
            if not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
                raise ValueError(f'train_cfg.tasks.{name}.sampling_weight must be a finite number '
                                 f'>= 0, got {w!r}')
            weights.append(float(w))
        total = sum(weights)
        if total <= 0:
            raise ValueError('train_cfg.tasks: all sampling_weight values are 0')
        self.task_names: List[str] = list(sampling_weights)
        self.probs = np.asarray(weights, dtype=np.float64) / total
        self._cdf = np.cumsum(self.probs)
        self._cdf[-1] = 1.0
        self.seed = int(seed)
        self.sampling = sampling
        self.rank = int(rank)

    @property
    def probabilities(self) -> Dict[str, float]:
        """dict: task name -> ``s_k``."""
        return {name: float(p) for name, p in zip(self.task_names, self.probs)}

    def _uniform(self, iteration: int, rank: int) -> float:
        key = [self.seed & 0xFFFFFFFF, int(iteration)]
        if self.sampling == 'mixed':
            key.insert(1, rank + 1)
        return float(np.random.default_rng(key).random())

    def sample(self, iteration: int, rank: Optional[int] = None) -> str:
        """The task trained at ``iteration`` (0-based) by ``rank`` (default this process' rank;
        with ``'unmixed'`` every rank's)."""
        if iteration < 0:
            raise ValueError(f'iteration must be >= 0, got {iteration}')
        rank = self.rank if rank is None else rank
        idx = int(np.searchsorted(self._cdf, self._uniform(iteration, rank), side='right'))
        return self.task_names[min(idx, len(self.task_names) - 1)]

    def sequence(self, start: int, stop: int, rank: Optional[int] = None) -> List[str]:
        """Tasks of iterations ``start, ..., stop - 1`` (of ``rank``, default this rank)."""
        return [self.sample(i, rank) for i in range(start, stop)]

    def counts(self, stop: int, start: int = 0, rank: Optional[int] = None) -> Dict[str, int]:
        """How many times each task is drawn in iterations ``[start, stop)``.

        A resumed loop advances every task's data iterator by this count, so each data loader
        continues where it stopped.
        """
        out = {name: 0 for name in self.task_names}
        for name in self.sequence(start, stop, rank):
            out[name] += 1
        return out

    def state(self) -> dict:
        """What determines the sequence (saved in checkpoints to detect a changed config on resume)."""
        return dict(seed=self.seed, sampling=self.sampling, probabilities=self.probabilities)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(sampling={self.sampling!r}, seed={self.seed}, '
                f'probabilities={self.probabilities})')


def build_task_sampler(tasks: Mapping[str, Mapping],
                       seed: int,
                       sampling: str = 'unmixed',
                       rank: int = 0,
                       allowed_keys=('sampling_weight', )) -> TaskSampler:
    """Build a :class:`TaskSampler` from ``train_cfg.tasks``.

    Args:
        tasks (Mapping[str, Mapping]): ``{task: dict(sampling_weight=w)}``; a missing
            ``sampling_weight`` means 1.
        seed, sampling, rank: see :class:`TaskSampler`.
        allowed_keys (tuple): keys a task entry may hold.
    """
    weights: Dict[str, float] = {}
    for name, cfg in tasks.items():
        cfg = {} if cfg is None else cfg
        if not isinstance(cfg, Mapping):
            raise TypeError(f'train_cfg.tasks.{name} must be a dict, got {type(cfg).__name__}')
        unknown = set(cfg) - set(allowed_keys)
        if unknown:
            raise KeyError(f'train_cfg.tasks.{name} has unknown keys {sorted(unknown)}; '
                           f'allowed: {list(allowed_keys)}')
        weights[name] = cfg.get('sampling_weight', 1.0)
    return TaskSampler(weights, seed=seed, sampling=sampling, rank=rank)
