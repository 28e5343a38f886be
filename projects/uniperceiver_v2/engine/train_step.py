"""The one multi-task ``train_step``: the batch's task travels from the batch into the optimizer.

``MultiTaskTrainLoop`` tags every batch with ``batch['task']``; :class:`MultiTaskTrainStep` (the
model's ``train_step``, and the DDP wrapper's) preprocesses, runs the loss forward and hands the
task to a :class:`~.protocols.TaskAwareOptimWrapper` with the loss (paper §4: TBGN weighs and
normalises the gradient by the task that produced it).
"""
from typing import Dict, List, Optional, Tuple

from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from torch import Tensor

from ..utils.task_batch import task_of
from .protocols import TaskAwareOptimWrapper


def update_params_for_task(optim_wrapper: OptimWrapper, loss: Tensor,
                           task: Optional[str]) -> None:
    """Backward ``loss`` and step, handing ``task`` to a task-aware wrapper.

    A :class:`~.protocols.TaskAwareOptimWrapper` (``TBGNOptimWrapper``) receives
    ``update_params(loss, task=task)``; any other wrapper (plain ``OptimWrapper`` /
    ``AmpOptimWrapper`` of the no-TBGN ablations) is called as MMEngine calls it.

    Args:
        optim_wrapper (OptimWrapper): an MMEngine optimizer wrapper.
        loss (Tensor): the parsed scalar loss.
        task (str, optional): the batch's task (``batch['task']``).
    """
    if isinstance(optim_wrapper, TaskAwareOptimWrapper):
        optim_wrapper.update_params(loss, task=task)
    else:
        optim_wrapper.update_params(loss)


class MultiTaskTrainStep:
    """Mixin: a ``train_step`` that hands ``batch['task']`` to the optimizer wrapper.

    Inherit it before ``BaseModel`` (the model) or ``MMDistributedDataParallel`` (its DDP
    wrapper); both then share this one implementation of MMEngine's ``train_step`` - preprocess,
    loss forward (through DDP for the wrapper), :meth:`parse_losses`, then
    :func:`update_params_for_task`.  ``MultiTaskTrainLoop`` checks ``isinstance(model,
    MultiTaskTrainStep)`` before training with a task-aware optimizer wrapper.
    """

    def task_names(self) -> Optional[List[str]]:
        """The tasks this model can train, or None when it does not name them.

        ``MultiTaskTrainLoop`` checks ``train_cfg.tasks`` against them once, before training.
        """
        return None

    def multi_task_update(self, data: dict,
                          optim_wrapper: OptimWrapper) -> Tuple[Tensor, Dict[str, Tensor]]:
        """One training update on ``data``; returns the parsed loss and the log variables.

        Args:
            data (dict): the collated batch with ``'task'``.
            optim_wrapper (OptimWrapper): the optimizer wrapper.
        """
        model = self.module if is_model_wrapper(self) else self
        with optim_wrapper.optim_context(self):
            data = model.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_loss, log_vars = model.parse_losses(losses)
        update_params_for_task(optim_wrapper, parsed_loss, task_of(data))
        return parsed_loss, log_vars

    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """MMEngine's ``train_step`` with the batch's task handed to the optimizer wrapper.

        Args:
            data (dict): the collated batch with ``'task'``.
            optim_wrapper (OptimWrapper): the optimizer wrapper.

        Returns:
            dict[str, Tensor]: the log variables.
        """
        return self.multi_task_update(data, optim_wrapper)[1]
