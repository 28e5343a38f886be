"""Data workers ignore SIGTERM: the main process decides when to stop (preemption)."""
import os
import signal
import time

import torch
from torch.utils.data import DataLoader, Dataset

from uniperceiver_v2.engine.preemption import WorkerIgnoresSigterm


class Pids(Dataset):
    """Item i = (i, pid of the worker that loaded it)."""

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int):
        return torch.tensor([i, os.getpid()])


def test_workers_survive_sigterm_and_keep_loading():
    seen = []
    loader = DataLoader(Pids(), batch_size=4, num_workers=2, persistent_workers=True,
                        worker_init_fn=WorkerIgnoresSigterm(seen.append))
    it = iter(loader)
    pids = {int(p) for p in next(it)[:, 1]} | {int(p) for p in next(it)[:, 1]}
    assert pids and os.getpid() not in pids
    for pid in pids:
        os.kill(pid, signal.SIGTERM)  # what Slurm / pkill send to every process
    time.sleep(0.5)
    rest = torch.cat([b[:, 0] for b in it])
    assert rest.tolist() == list(range(8, 64))  # nothing lost, nobody died
    assert seen == []  # the wrapped init_fn ran in the workers, not here


def test_wrapped_init_fn_runs_in_the_worker(tmp_path):
    marker = tmp_path / 'ran'

    def init_fn(worker_id: int) -> None:
        marker.write_text(str(signal.getsignal(signal.SIGTERM) == signal.SIG_IGN))

    loader = DataLoader(Pids(), batch_size=4, num_workers=1,
                        worker_init_fn=WorkerIgnoresSigterm(init_fn))
    next(iter(loader))
    assert marker.read_text() == 'True'
