"""The contract between the multi-task train loop, the model and the optimizer wrapper.

Unmixed multi-task training (paper §4) needs three things from the parts it drives, each declared
here as an abstract base class that a part inherits (the loop checks ``isinstance``):

* :class:`TaskAwareOptimWrapper` - an optimizer wrapper whose update depends on the batch's task
  (TBGN: ω_k and s_k of the task that produced the gradient).  The loop hands it the sampling
  shares of ``train_cfg.tasks`` once, before training (:meth:`~TaskAwareOptimWrapper.
  set_task_sampling`), and the model's ``train_step`` hands it each batch's task.
* :class:`~.train_step.MultiTaskTrainStep` (in ``train_step.py``) - a model (or model wrapper)
  whose ``train_step`` hands ``batch['task']`` on to a task-aware optimizer wrapper.
* :class:`CollectiveLoss` - a module whose loss may enter a cross-rank collective that only the
  ranks training its task reach (gathered retrieval negatives, synchronised loss normalisers);
  the loop refuses mixed sampling on several ranks when one says so.
"""
from abc import ABC, abstractmethod
from typing import Dict, List, Mapping, Optional

from torch import Tensor


class TaskAwareOptimWrapper(ABC):
    """An optimizer wrapper that is told the task of every update (paper §4, TBGN).

    Inherit it next to ``mmengine.optim.OptimWrapper``; ``MultiTaskTrainLoop`` then calls
    :meth:`set_task_sampling` before training and :func:`~.train_step.update_params_for_task`
    passes ``task=`` to :meth:`update_params`.
    """

    @abstractmethod
    def update_params(self,
                      loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None,
                      *,
                      task: Optional[str] = None) -> None:
        """Backward ``loss`` of task ``task`` and take one step.

        Args:
            loss (Tensor): the batch's loss.
            step_kwargs (dict, optional): extra arguments of the wrapper's ``step``.
            zero_kwargs (dict, optional): arguments of ``zero_grad``.
            task (str): the batch's task (``batch['task']``).
        """

    @abstractmethod
    def set_task_sampling(self, probabilities: Mapping[str, float], sampling: str) -> None:
        """Take the loop's task sampling, once, before training.

        Args:
            probabilities (Mapping[str, float]): task -> sampling share s_k (``train_cfg.tasks``;
                the only source of s_k in an MMEngine run).
            sampling (str): ``'unmixed'`` (every rank trains the same task) or ``'mixed'``.
        """


class CollectiveLoss(ABC):
    """A module whose loss can enter a cross-rank collective only its task's ranks reach.

    Under mixed sampling (``train_cfg.sampling='mixed'``) ranks train different tasks in one
    iteration, so such a collective deadlocks; ``MultiTaskTrainLoop`` asks every
    ``CollectiveLoss`` module of the model for the config keys that switch its collectives on and
    refuses to start, naming them.
    """

    @abstractmethod
    def collectives_in_loss(self) -> List[str]:
        """Names of this module's settings that make its loss enter a collective (empty: none).

        Returns:
            list[str]: attribute / config key names, e.g. ``['gather_features']``.
        """
