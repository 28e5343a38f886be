"""Registered components; each submodule is imported here so that importing the package registers it."""
from .protocols import CollectiveLoss, TaskAwareOptimWrapper  # noqa: F401
from .train_step import MultiTaskTrainStep, update_params_for_task  # noqa: F401
from .task_sampler import TaskSampler, build_task_sampler  # noqa: F401
from .multi_task_train_loop import MultiTaskTrainLoop  # noqa: F401
from .multi_task_train_state_hook import MultiTaskTrainStateHook  # noqa: F401
from .multi_task_val_loop import MultiTaskValLoop  # noqa: F401
from .multi_task_test_loop import MultiTaskTestLoop  # noqa: F401
from .tbgn_optimizer import TBGN, global_grad_norm  # noqa: F401
from .tbgn import TBGNOptimWrapper  # noqa: F401
from .amp_tbgn import AmpTBGNOptimWrapper  # noqa: F401
from .tbgn_constructor import TBGNOptimWrapperConstructor  # noqa: F401
from .multi_task_log_processor import MultiTaskLogProcessor  # noqa: F401
