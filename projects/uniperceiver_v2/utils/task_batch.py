"""The task of a batch: the one key that carries it from the data loader to the optimizer.

``MultiTaskTrainLoop`` tags every collated batch with ``batch[TASK_KEY] = k``; the data preprocessor
keeps the key, ``UniPerceiverV2.forward(task=...)`` routes the batch to task ``k`` and the model's
``train_step`` (or the DDP wrapper's) hands ``k`` to the optimizer wrapper
(:func:`update_params_for_task`).  Nothing reads the task from global runtime state.
"""
import inspect
from typing import Mapping, Optional

from torch import Tensor

#: The data-batch key that names the batch's task (one definition for the whole package).
TASK_KEY = 'task'


def task_of(data: Mapping) -> Optional[str]:
    """The task named by a (collated or preprocessed) batch, or None.

    Args:
        data (Mapping): a data batch.
    """
    task = data.get(TASK_KEY) if isinstance(data, Mapping) else None
    if task is not None and not isinstance(task, str):
        raise TypeError(f"batch['{TASK_KEY}'] must be a task name (str), got {task!r}")
    return task


def takes_task(optim_wrapper) -> bool:
    """Whether ``optim_wrapper.update_params`` accepts the batch's task (e.g. TBGN)."""
    return 'task' in inspect.signature(optim_wrapper.update_params).parameters


def update_params_for_task(optim_wrapper, loss: Tensor, task: Optional[str]) -> None:
    """Backward ``loss`` and step, handing ``task`` to wrappers that take one.

    Task-aware wrappers (``TBGNOptimWrapper``: ω_k and s_k depend on the task) receive
    ``update_params(loss, task=task)``; any other wrapper (plain ``OptimWrapper`` / ``AmpOptimWrapper``
    of the no-TBGN ablations) is called as MMEngine calls it.

    Args:
        optim_wrapper: an MMEngine optimizer wrapper.
        loss (Tensor): the parsed scalar loss.
        task (str, optional): the batch's task (``batch['task']``).
    """
    if takes_task(optim_wrapper):
        optim_wrapper.update_params(loss, task=task)
    else:
        optim_wrapper.update_params(loss)
