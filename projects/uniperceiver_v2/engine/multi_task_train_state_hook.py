"""Puts the multi-task loop's resume state (per-rank data positions) into checkpoints."""
from mmengine.hooks import Hook


class MultiTaskTrainStateHook(Hook):
    """Save and restore a ``MultiTaskTrainLoop``'s ``train_state()`` with every checkpoint.

    ``MultiTaskTrainLoop`` registers this hook for itself (it is not built from configs).  The state
    is added when rank 0 writes a checkpoint (MMEngine saves on rank 0 only, so the state must not
    need the other ranks) and handed back to the loop on every rank when training resumes; the loop
    applies it when training starts (see its docstring).

    Args:
        loop (MultiTaskTrainLoop): the loop whose state travels with the checkpoints.
    """
    priority = 'VERY_HIGH'

    def __init__(self, loop) -> None:
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[self.loop.train_state_key] = self.loop.train_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loop.load_train_state(checkpoint.get(self.loop.train_state_key))
