"""StepMemoryHook (uniperceiver_v2.testing.step_memory_hook): one JSON line per training
iteration with its task, seconds and peak RSS, one per validation / test pass."""
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from uniperceiver_v2.testing.step_memory_hook import StepMemoryHook


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_records_task_time_and_the_step_peak(tmp_path):
    hook = StepMemoryHook(str(tmp_path / 'steps.jsonl'))
    runner = SimpleNamespace(iter=0)
    hook.before_train_iter(runner, 0, dict(task='coco_det'))
    big = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB touched inside the step
    del big
    hook.after_train_iter(runner, 0, dict(task='coco_det'))
    hook.before_val_epoch(runner)
    hook.after_val_epoch(runner)
    lines = [json.loads(x) for x in (tmp_path / 'steps.jsonl').read_text().splitlines()]
    assert [x['phase'] for x in lines] == ['train', 'val']
    train = lines[0]
    assert train['task'] == 'coco_det' and train['iter'] == 0 and train['seconds'] >= 0
    assert train['peak_rss_mib'] - train['start_rss_mib'] >= 60  # the freed array is seen
