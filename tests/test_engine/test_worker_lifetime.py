"""WorkerDiesWithParent: data workers end with the main process, even inside a slow sample."""
import os
import signal
import subprocess
import sys
import time

import pytest

from uniperceiver_v2.engine import worker_lifetime
from uniperceiver_v2.testing.entry_points import train_env

CHILD = '''
import importlib.util, os, sys, time
from torch.utils.data import DataLoader, Dataset
# the module alone (not the whole plugin): the child starts in seconds
spec = importlib.util.spec_from_file_location('worker_lifetime', sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
WorkerDiesWithParent = module.WorkerDiesWithParent

class Slow(Dataset):
    def __len__(self):
        return 100
    def __getitem__(self, i):
        if i >= 2:
            time.sleep(120)  # a worker stuck in a sample: torch's watchdog never gets to run
        return i

init = WorkerDiesWithParent(None) if sys.argv[1] == 'fix' else None
it = iter(DataLoader(Slow(), num_workers=2, persistent_workers=True, worker_init_fn=init))
next(it)
print(' '.join(str(w.pid) for w in it._workers), flush=True)
time.sleep(120)
'''


def alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='prctl is Linux only')
@pytest.mark.parametrize('mode', ['fix', 'plain'])
def test_workers_end_with_a_killed_main_process(mode):
    proc = subprocess.Popen([sys.executable, '-c', CHILD, mode, worker_lifetime.__file__],
                            stdout=subprocess.PIPE, text=True, env=train_env())
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    time.sleep(1.0)  # both workers are inside a sample now
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    for p in left:  # clean up what the plain loader leaves behind
        os.kill(p, signal.SIGKILL)
    if mode == 'fix':
        assert not left, 'workers outlived their main process'
    else:  # the case the wrapper exists for: torch alone leaves them running
        assert left
