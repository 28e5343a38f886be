"""The task of a batch: the one key that carries it from the data loader to the optimizer.

``MultiTaskTrainLoop`` tags every collated batch with ``batch[TASK_KEY] = k`` (a task of
``train_cfg.tasks``, checked once when training starts); the data preprocessor keeps the key,
``UniPerceiverV2.forward(task=...)`` routes the batch to task ``k`` and the shared multi-task
``train_step`` (``uniperceiver_v2.engine.MultiTaskTrainStep``) hands ``k`` to the optimizer
wrapper.  Nothing reads the task from global runtime state.
"""
from typing import Mapping, Optional

#: The data-batch key that names the batch's task (one definition for the whole package).
TASK_KEY = 'task'


def task_of(data: Mapping) -> Optional[str]:
    """The task named by a (collated or preprocessed) batch, or None.

    Args:
        data (Mapping): a data batch.
    """
    return data.get(TASK_KEY) if isinstance(data, Mapping) else None
