"""StepMemoryHook (uniperceiver_v2.testing.step_memory_hook): one JSON line per training
iteration with its task, seconds and peak RSS, one per validation / test pass.

The hook runs in a fresh interpreter: inside a long pytest run the allocator may serve the array
from memory an earlier test left resident, and the peak would not move."""
import json
import subprocess
import sys

import pytest

STEPS = r'''
import sys
from types import SimpleNamespace
import numpy as np
from uniperceiver_v2.testing.step_memory_hook import StepMemoryHook
hook = StepMemoryHook(sys.argv[1])
runner = SimpleNamespace(iter=0)
hook.before_train_iter(runner, 0, dict(task='coco_det'))
big = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB touched inside the step
del big
hook.after_train_iter(runner, 0, dict(task='coco_det'))
hook.before_val_epoch(runner)
hook.after_val_epoch(runner)
'''


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_records_task_time_and_the_step_peak(tmp_path):
    out = tmp_path / 'steps.jsonl'
    subprocess.run([sys.executable, '-c', STEPS, str(out)], check=True, timeout=120)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x['phase'] for x in lines] == ['train', 'val']
    train = lines[0]
    assert train['task'] == 'coco_det' and train['iter'] == 0 and train['seconds'] >= 0
    assert train['peak_rss_mib'] - train['start_rss_mib'] >= 60  # the freed array is seen
