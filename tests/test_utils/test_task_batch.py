"""The task key: read from a batch, handed to task-aware optimizer wrappers only."""
import pytest
import torch

from uniperceiver_v2.utils.task_batch import TASK_KEY, task_of, update_params_for_task
from uniperceiver_v2.utils.dist import loss_normaliser


class PlainWrapper:
    def __init__(self):
        self.calls = []

    def update_params(self, loss, step_kwargs=None, zero_kwargs=None):
        self.calls.append(())


class TaskAwareWrapper(PlainWrapper):
    def update_params(self, loss, step_kwargs=None, zero_kwargs=None, task=None):
        self.calls.append((task, ))


def test_task_reaches_task_aware_wrappers_only():
    loss = torch.tensor(1.0)
    plain, aware = PlainWrapper(), TaskAwareWrapper()
    update_params_for_task(plain, loss, 'cls')
    update_params_for_task(aware, loss, 'cls')
    assert plain.calls == [()] and aware.calls == [('cls', )]


def test_task_of():
    assert task_of({TASK_KEY: 'det'}) == 'det'
    assert task_of({}) is None
    with pytest.raises(TypeError, match="batch\\['task'\\]"):
        task_of({TASK_KEY: ['det', 'cls']})


def test_loss_normaliser_without_sync_is_the_local_count():
    """Only the local branch is checkable in one process; that sync=False enters no collective
    is shown on 2 ranks by test_two_ranks_mixed_sampling_runs (tests/test_tools)."""
    count = torch.tensor(3.0)
    assert loss_normaliser(count, sync=False) is count
