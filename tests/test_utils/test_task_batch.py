"""The task key: read from a batch, handed to wrappers that declare they take it."""
import torch

from uniperceiver_v2.engine import TaskAwareOptimWrapper, update_params_for_task
from uniperceiver_v2.utils.task_batch import TASK_KEY, task_of
from uniperceiver_v2.utils.dist import loss_normaliser


class PlainWrapper:
    def __init__(self):
        self.calls = []

    def update_params(self, loss, step_kwargs=None, zero_kwargs=None):
        self.calls.append(())


class UndeclaredWrapper(PlainWrapper):
    """Takes a task, but does not declare TaskAwareOptimWrapper: it is called as MMEngine does."""

    def update_params(self, loss, step_kwargs=None, zero_kwargs=None, task=None):
        self.calls.append((task, ))


class TaskAwareWrapper(PlainWrapper, TaskAwareOptimWrapper):
    def update_params(self, loss, step_kwargs=None, zero_kwargs=None, *, task=None):
        self.calls.append((task, ))

    def set_task_sampling(self, probabilities, sampling):
        pass


def test_task_reaches_declared_task_aware_wrappers_only():
    loss = torch.tensor(1.0)
    plain, undeclared, aware = PlainWrapper(), UndeclaredWrapper(), TaskAwareWrapper()
    for wrapper in (plain, undeclared, aware):
        update_params_for_task(wrapper, loss, 'cls')
    assert plain.calls == [()] and undeclared.calls == [(None, )] and aware.calls == [('cls', )]


def test_task_of():
    assert task_of({TASK_KEY: 'det'}) == 'det'
    assert task_of({}) is None


def test_loss_normaliser_without_sync_is_the_local_count():
    """Only the local branch is checkable in one process; that sync=False enters no collective
    is shown on 2 ranks by test_two_ranks_mixed_sampling_runs (tests/test_tools)."""
    count = torch.tensor(3.0)
    assert loss_normaliser(count, sync=False) is count
