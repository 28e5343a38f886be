from .compat import apply_compat, atomic_put, checkpoint_safe_globals, mmengine_checkpoint_globals
from .checkpoint import check_checkpoint_matches
from .dist import all_gather_with_grad
from .task_batch import TASK_KEY, task_of

__all__ = ['apply_compat', 'atomic_put', 'check_checkpoint_matches', 'checkpoint_safe_globals',
           'mmengine_checkpoint_globals', 'all_gather_with_grad', 'TASK_KEY', 'task_of']
