"""Smoke tests of the ablation configs through the real entry points (tiny data, few iterations)."""
from pathlib import Path

import pytest

from uniperceiver_v2.testing.entry_points import (assert_bit_identical, assert_finite, params,
                                                  records, train, write_run_config)

pytestmark = pytest.mark.integration
CONFIGS = Path(__file__).resolve().parent / 'configs'


@pytest.fixture(scope='module', autouse=True)
def _stage1(stage1_checkpoint):
    """Every run of this module starts from the stage-1 checkpoint."""
    return stage1_checkpoint


def test_two_ranks_mixed_sampling_runs(run_dir):
    """Tab. 4's mixed-sampling row on 2 gloo ranks: ranks draw their own tasks, parameters stay
    identical."""
    config = write_run_config(run_dir, 'mixed', CONFIGS / 'upv2_tiny_synthetic_mixed.py',
                              max_iters=10, ckpt_interval=10)
    train(run_dir, config, str(run_dir / 'w_mixed'), ranks=2)
    r0, r1 = records(run_dir, 'mixed', 0), records(run_dir, 'mixed', 1)
    assert len(r0) == len(r1) == 10
    t0, t1 = [r['task'] for r in r0], [r['task'] for r in r1]
    assert t0 != t1  # mixed: ranks draw their own tasks
    assert 'syn_det' in t0 + t1 and 'syn_ret' in t0 + t1
    assert_finite(r0 + r1)
    assert_bit_identical(params(run_dir, 'mixed', 0), params(run_dir, 'mixed', 1))
