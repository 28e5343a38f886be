"""SIGTERM (Slurm preemption, time limits) turns into "finish the iteration, checkpoint, exit 75"."""
import signal
from typing import Callable, Optional

import torch
from mmengine.dist import all_reduce, get_world_size

#: exit status after a SIGTERM-triggered checkpoint (EX_TEMPFAIL: "try again", i.e. resume)
PREEMPTED_EXIT_CODE = 75


class WorkerIgnoresSigterm:
    """``worker_init_fn`` of a data loader whose workers ignore SIGTERM, then run ``init_fn``.

    Slurm (and ``pkill``, ``timeout``) signal every process of the job.  torch's data workers die
    of a SIGTERM that does not come from their parent, and one that dies while its batch is half
    written into the result pipe leaves the main process blocked forever reading the rest.  The
    main process handles SIGTERM (:class:`SigtermFlag`) and shuts its workers down when it exits;
    a worker whose parent is gone exits by torch's own watchdog, and SIGKILL still ends it.

    Args:
        init_fn (callable, optional): the loader's previous ``worker_init_fn``.
    """

    def __init__(self, init_fn: Optional[Callable[[int], None]] = None) -> None:
        self.init_fn = init_fn

    def __call__(self, worker_id: int) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.init_fn is not None:
            self.init_fn(worker_id)


class SigtermFlag:
    """Context manager that records SIGTERM instead of dying (main thread only).

    ``requested()`` tells whether any rank received it (an all-reduce when several ranks run, so
    every rank stops at the same iteration); the previous SIGTERM handler is restored on exit.
    """

    def __init__(self) -> None:
        self.received = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        self.received = True
        # Slurm signals every process of the job: data workers die of this SIGTERM too.  torch's
        # SIGCHLD handler would raise for that anywhere in the iteration still running; with it
        # reset, a dead worker surfaces only in the next fetch, before the checkpoint is written.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def __enter__(self) -> 'SigtermFlag':
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handler)
        except ValueError:  # not the main thread: SIGTERM keeps its default action
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def requested(self) -> bool:
        """Whether any rank received SIGTERM (a collective every rank enters)."""
        flag = torch.tensor([1 if self.received else 0])
        if get_world_size() > 1:
            all_reduce(flag, op='sum')
        return bool(flag.item() > 0)
