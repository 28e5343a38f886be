"""The unmixed task draw ignores per-rank seeds: 2 gloo ranks with ``randomness.diff_rank_seed``.

MMEngine's ``diff_rank_seed=True`` gives rank ``r`` the seed ``seed + r``.  The task of every
iteration must still be the same on every rank (otherwise one rank enters the retrieval
all-gather while another enters the detection loss reduce, or TBGN applies one task's ω/s to
another task's all-reduced gradient), and a resumed run must continue exactly.  The real model of
the embedded default, through ``tools/dist_train.sh`` (torchrun), at a tiny size.
"""
from pathlib import Path

import pytest

from uniperceiver_v2.testing.entry_points import (EMBEDDED, assert_bit_identical,
                                                  assert_finite, params, records, train)
from uniperceiver_v2.testing.train_record_hook import write_small_run_config

MAX_ITERS = 4
DIFF_RANK_SEED = ('--cfg-options', 'randomness.diff_rank_seed=True')


def config(run_dir: Path, name: str) -> Path:
    return Path(write_small_run_config(str(run_dir / f'{name}.py'), str(EMBEDDED),
                                       str(run_dir / f'records_{name}'), MAX_ITERS, 2,
                                       batch_size=2))


pytestmark = pytest.mark.integration


@pytest.fixture(scope='module')
def full_run(run_dir: Path) -> str:
    proc = train(run_dir, config(run_dir, 'full'), str(run_dir / 'w_full'), *DIFF_RANK_SEED,
                 ranks=2)
    assert 'diff_rank_seed=True' in proc.stdout + proc.stderr  # the setting was in effect
    return 'full'


def test_ranks_draw_the_same_tasks_with_diff_rank_seed(run_dir, full_run):
    r0, r1 = records(run_dir, full_run, 0), records(run_dir, full_run, 1)
    assert [r['iter'] for r in r0] == [r['iter'] for r in r1] == list(range(MAX_ITERS))
    assert [r['task'] for r in r0] == [r['task'] for r in r1]
    assert_finite(r0 + r1)
    assert_bit_identical(params(run_dir, full_run, 0), params(run_dir, full_run, 1))


def test_resume_with_diff_rank_seed_is_exact(run_dir, full_run):
    train(run_dir, config(run_dir, 'resumed'), str(run_dir / 'w_resumed'), *DIFF_RANK_SEED,
          '--resume', str(run_dir / 'w_full' / 'iter_2.pth'), ranks=2)
    for rank in range(2):
        full = {r['iter']: r for r in records(run_dir, full_run, rank)}
        resumed = records(run_dir, 'resumed', rank)
        assert [r['iter'] for r in resumed] == list(range(2, MAX_ITERS))
        for r in resumed:  # same task, same losses bit for bit
            assert (r['task'], r['losses']) == (full[r['iter']]['task'],
                                                full[r['iter']]['losses'])
        assert_bit_identical(params(run_dir, 'resumed', rank), params(run_dir, full_run, rank))
