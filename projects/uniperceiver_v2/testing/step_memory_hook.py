"""``StepMemoryHook``: time and peak host memory of every training iteration (with its task) and
of every validation / test pass, for the measurements of the real configs on the mock layouts."""
import json
import os
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _reset_peak_rss() -> None:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS (Linux ``clear_refs`` 5)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def _peak_rss_mib() -> float:
    """The process's peak RSS (``VmHWM``) since the last reset, in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('/proc/self/status has no VmHWM line')


@HOOKS.register_module()
class StepMemoryHook(Hook):
    """Write one JSON line per training iteration (``task``, ``seconds``, ``start_rss_mib``,
    ``peak_rss_mib``) and per validation / test pass (``phase``, ``seconds``, ...) of the main process
    (data workers not included) to ``out_file``.  Linux only (``/proc``).

    Args:
        out_file (str): the JSON-lines file (appended to).
    """
    priority = 'VERY_LOW'

    def __init__(self, out_file: str) -> None:
        self.out_file = out_file
        os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
        self._start: Optional[float] = None
        self._start_rss = 0.0

    def _begin(self) -> None:
        _reset_peak_rss()
        self._start_rss = _peak_rss_mib()  # = the current RSS right after the reset
        self._start = time.perf_counter()

    def _end(self, **fields) -> None:
        line = dict(fields, seconds=time.perf_counter() - self._start,
                    start_rss_mib=self._start_rss, peak_rss_mib=_peak_rss_mib())
        with open(self.out_file, 'a') as f:
            f.write(json.dumps(line) + '\n')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._begin()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._end(phase='train', iter=runner.iter, task=(data_batch or {}).get('task'))

    def before_val_epoch(self, runner) -> None:
        self._begin()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._end(phase='val')

    def before_test_epoch(self, runner) -> None:
        self._begin()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._end(phase='test')
