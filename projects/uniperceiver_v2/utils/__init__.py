from .compat import apply_compat, atomic_put, mmengine_checkpoint_globals
from .checkpoint import check_checkpoint_matches
from .dist import all_gather_with_grad
from .task_batch import TASK_KEY, task_of, update_params_for_task

__all__ = ['apply_compat', 'atomic_put', 'check_checkpoint_matches', 'mmengine_checkpoint_globals',
           'all_gather_with_grad', 'TASK_KEY', 'task_of', 'update_params_for_task']
