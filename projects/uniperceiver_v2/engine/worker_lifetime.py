"""Data-loader workers that end with the process that started them (no orphans after a crash)."""
import ctypes
import os
import signal
import sys
from typing import Callable, Optional

#: prctl option that sends a signal to this process when its parent ends (linux/prctl.h)
PR_SET_PDEATHSIG = 1


class WorkerDiesWithParent:
    """``worker_init_fn`` of a data loader whose workers get SIGKILL when the main process ends,
    then run ``init_fn``.

    torch's workers notice a dead parent only between samples (its watchdog polls every 5 s); a
    worker inside a slow sample, or one blocked writing a batch nobody reads, outlives a crashed
    or killed main process - with one loader per task that was many processes lingering for
    minutes.  On Linux the kernel ends them at once (``prctl(PR_SET_PDEATHSIG, SIGKILL)``);
    elsewhere only ``init_fn`` runs.

    Args:
        init_fn (callable, optional): the loader's previous ``worker_init_fn``.
    """

    def __init__(self, init_fn: Optional[Callable[[int], None]] = None) -> None:
        self.init_fn = init_fn
        self.parent_pid = os.getpid()

    def __call__(self, worker_id: int) -> None:
        if sys.platform.startswith('linux'):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.parent_pid:  # the parent ended before prctl took effect
                os._exit(1)
        if self.init_fn is not None:
            self.init_fn(worker_id)
