"""Task-keyed data loaders: building them and the one-object view the runner and hooks expect."""
from typing import Any, Dict, Iterator, Mapping, Optional, Union

from torch.utils.data import DataLoader

from .worker_lifetime import WorkerDiesWithParent


def check_task_keys(task_names, loader_cfgs: Mapping, tasks_key: str, loaders_key: str) -> None:
    """Raise a clear error when the task names of two task-keyed config dicts differ.

    Args:
        task_names: task names of ``tasks_key`` (e.g. ``train_cfg.tasks``).
        loader_cfgs (Mapping): the task-keyed dict of ``loaders_key`` (e.g. ``train_dataloader``).
    """
    if not isinstance(loader_cfgs, Mapping) or 'type' in loader_cfgs or 'dataset' in loader_cfgs:
        what = ('a single data loader config (top-level "dataset"/"type" key)'
                if isinstance(loader_cfgs, Mapping) else type(loader_cfgs).__name__)
        raise TypeError(f'{loaders_key} must be a dict keyed by task name '
                        f'(dict(<task>=dict(<dataloader cfg>), ...)), got {what}')
    a, b = set(task_names), set(loader_cfgs)
    if a - b:
        raise KeyError(f'{tasks_key} has task(s) {sorted(a - b)} with no entry in {loaders_key}')
    if b - a:
        raise KeyError(f'{loaders_key} has task(s) {sorted(b - a)} with no entry in {tasks_key}')


def build_task_dataloaders(runner, cfgs: Mapping[str, Union[DataLoader, dict]], key: str,
                           seed: Optional[int] = None) -> Dict[str, DataLoader]:
    """Build one data loader per task with :meth:`Runner.build_dataloader`.

    Args:
        runner (Runner): the runner.
        cfgs (Mapping[str, DataLoader | dict]): task name -> data loader or its config.
        key (str): config key, for error messages (``'train_dataloader'``).
        seed (int, optional): seed of the samplers and data workers (the workers add their rank
            and id), which must be the same on every rank (ranks split one permutation); default
            ``runner.seed``, as MMEngine's loops use it.
    """
    seed = runner.seed if seed is None else seed
    loaders = {}
    for task, cfg in cfgs.items():
        if isinstance(cfg, DataLoader):
            loaders[task] = cfg
        elif isinstance(cfg, Mapping):
            if 'dataset' not in cfg:
                raise KeyError(f'{key}.{task} has no "dataset" field')
            loaders[task] = runner.build_dataloader(dict(cfg), seed=seed)
            # one loader per task: their workers must not outlive a crashed main process
            loaders[task].worker_init_fn = WorkerDiesWithParent(loaders[task].worker_init_fn)
        else:
            raise TypeError(f'{key}.{task} must be a DataLoader or a dict, '
                            f'got {type(cfg).__name__}')
    return loaders


class _MultiTaskDatasetView:
    """``.metainfo`` of every task's dataset, keyed by task."""

    def __init__(self, loaders: Mapping[str, DataLoader]) -> None:
        self.datasets = {task: loader.dataset for task, loader in loaders.items()}

    @property
    def metainfo(self) -> Dict[str, Any]:
        return {task: getattr(ds, 'metainfo', None) for task, ds in self.datasets.items()}

    def __len__(self) -> int:
        return sum(len(ds) for ds in self.datasets.values())


class MultiTaskDataLoaders(Mapping):
    """Read-only mapping task -> DataLoader that answers what MMEngine asks of ``loop.dataloader``.

    MMEngine's runner and hooks read ``runner.train_dataloader`` (= ``train_loop.dataloader``):
    ``len()`` for logging/ETA and epoch-length conversion of schedulers, ``.dataset.metainfo`` for
    checkpoints.  ``length`` is that ``len()``: ``max_iters`` for training (the whole run is one
    "epoch", as in ``IterBasedTrainLoop``), the total number of batches for evaluation.

    Args:
        loaders (Mapping[str, DataLoader]): task name -> data loader.
        length (int, optional): value of ``len()``; default: sum of the loaders' lengths.
    """

    def __init__(self, loaders: Mapping[str, DataLoader], length: int = None) -> None:
        self._loaders = dict(loaders)
        self._length = length
        self.dataset = _MultiTaskDatasetView(self._loaders)

    def __getitem__(self, task: str) -> DataLoader:
        return self._loaders[task]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        if self._length is not None:
            return self._length
        return sum(len(loader) for loader in self._loaders.values())

    def __repr__(self) -> str:
        return f'{type(self).__name__}(tasks={list(self._loaders)})'
