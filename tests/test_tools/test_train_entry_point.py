"""The real UniPerceiverV2 of the embedded default through the real entry points.

``tools/dist_train.sh`` (torchrun, 2 gloo processes on this CPU machine) with unmixed and mixed
sampling, a 2-rank checkpoint resumed in one process, exact resume after ``kill -9``, and SIGTERM
preemption.  Every run is the shipped config (``configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py`` or its mixed
ablation) with CI-sized overrides only: the run's tiny synthetic copy (12 images of 64 px), small
batches, no validation, and :class:`TrainRecordHook` recording each rank's tasks, losses and final
parameters.
"""
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch

from uniperceiver_v2.testing.entry_points import (EMBEDDED, REPO_ROOT, TIMEOUT, assert_bit_identical,
                                                  assert_finite, params, records, train,
                                                  train_env, write_run_config)

pytestmark = pytest.mark.integration
PREEMPTED_EXIT_CODE = 75


@pytest.fixture(scope='module', autouse=True)
def _stage1(stage1_checkpoint):
    """Every run of this module starts from the stage-1 checkpoint."""
    return stage1_checkpoint


# ------------------------------------------------------------------------------ 2 ranks
@pytest.fixture(scope='module')
def unmixed_two_ranks(run_dir) -> str:
    config = write_run_config(run_dir, 'unmixed', EMBEDDED, max_iters=10, ckpt_interval=10)
    train(run_dir, config, str(run_dir / 'w_unmixed'), ranks=2)
    return 'unmixed'


def test_two_ranks_unmixed_train_the_real_model(run_dir, unmixed_two_ranks):
    r0, r1 = records(run_dir, 'unmixed', 0), records(run_dir, 'unmixed', 1)
    assert [r['iter'] for r in r0] == list(range(10))
    assert [r['task'] for r in r0] == [r['task'] for r in r1]  # unmixed: same task on every rank
    assert {r['task'] for r in r0} == {'syn_cls', 'syn_det', 'syn_cap', 'syn_ret'}
    assert_finite(r0 + r1)
    for r in r0:  # each loss once, under its task's name
        assert all(k.startswith(r['task'] + '/') for k in r['losses']), r['losses']
    assert_bit_identical(params(run_dir, 'unmixed', 0), params(run_dir, 'unmixed', 1))


def test_two_rank_checkpoint_resumes_in_one_process(run_dir, unmixed_two_ranks):
    config = write_run_config(run_dir, 'unmixed_resumed', EMBEDDED, max_iters=12, ckpt_interval=12)
    ckpt = run_dir / 'w_unmixed' / 'iter_10.pth'
    assert ckpt.is_file()
    proc = train(run_dir, config, str(run_dir / 'w_unmixed_resumed'), '--resume', str(ckpt))
    resumed = records(run_dir, 'unmixed_resumed')
    assert [r['iter'] for r in resumed] == [10, 11]
    assert_finite(resumed)
    assert 'not an exact resume' in proc.stdout + proc.stderr  # 2 ranks -> 1 rank is said


def test_mixed_sampling_refuses_collectives_on_several_ranks(run_dir):
    """The embedded default's gathered negatives and synced normalisers cannot run mixed."""
    config = write_run_config(run_dir, 'mixed_bad', EMBEDDED, max_iters=2, ckpt_interval=2)
    proc = train(run_dir, config, str(run_dir / 'w_mixed_bad'), '--cfg-options',
                 'train_cfg.sampling=mixed', ranks=2, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for key in ('model.tasks.syn_ret.gather_features', 'model.tasks.syn_det.sync_cls_avg_factor',
                'model.image_encoder.proposal_network.bbox_head.sync_cls_avg_factor'):
        assert key in out


# ------------------------------------------------------------------------------ exact resume
MAX_ITERS = 8


@pytest.fixture(scope='module')
def uninterrupted(run_dir) -> List[dict]:
    # persistent data workers as shipped: they ignore SIGTERM, and the process must still exit
    config = write_run_config(run_dir, 'full', EMBEDDED, max_iters=MAX_ITERS, ckpt_interval=3,
                          num_workers=1)
    train(run_dir, config, str(run_dir / 'w_full'))
    recs = records(run_dir, 'full')
    assert [r['iter'] for r in recs] == list(range(MAX_ITERS))
    return recs


def start(run_dir: Path, config: Path, work_dir: Path) -> subprocess.Popen:
    """Training in a process group of its own (so a test can signal all of it, as Slurm does)."""
    log = open(run_dir / f'{config.stem}.log', 'w')
    return subprocess.Popen([sys.executable, str(REPO_ROOT / 'tools' / 'train.py'), str(config),
                             '--work-dir', str(work_dir)], cwd=run_dir, env=train_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(predicate, proc: subprocess.Popen, what: str) -> None:
    deadline = time.time() + TIMEOUT
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f'training exited ({proc.returncode}) before {what}')
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.2)


def assert_same_losses(resumed: List[dict], full: List[dict]) -> None:
    by_iter = {r['iter']: r for r in full}
    assert resumed and resumed[-1]['iter'] == MAX_ITERS - 1
    for r in resumed:
        assert r['task'] == by_iter[r['iter']]['task']
        assert r['losses'] == by_iter[r['iter']]['losses'], r['iter']  # exact, bit for bit


def test_exact_resume_after_kill_9(run_dir, uninterrupted):
    config = write_run_config(run_dir, 'killed', EMBEDDED, max_iters=MAX_ITERS, ckpt_interval=3)
    work_dir = run_dir / 'w_killed'
    proc = start(run_dir, config, work_dir)
    wait_for(lambda: (work_dir / 'iter_3.pth').is_file(), proc, 'iter_3.pth')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed_cfg = write_run_config(run_dir, 'killed_resumed', EMBEDDED, max_iters=MAX_ITERS,
                               ckpt_interval=3)
    train(run_dir, resumed_cfg, str(work_dir), '--resume', str(work_dir / 'iter_3.pth'))
    resumed = records(run_dir, 'killed_resumed')
    assert resumed[0]['iter'] == 3
    # the resumed part draws denoising noise (detection) and random captions (retrieval)
    assert {'syn_det', 'syn_ret'} <= {r['task'] for r in resumed}
    assert_same_losses(resumed, uninterrupted)


def test_sigterm_checkpoints_exits_75_and_resumes_exactly(run_dir, uninterrupted):
    # data workers as in the shipped config; Slurm signals every process of the job, workers too
    config = write_run_config(run_dir, 'preempted', EMBEDDED, max_iters=MAX_ITERS, ckpt_interval=100,
                          num_workers=1)
    work_dir = run_dir / 'w_preempted'
    proc = start(run_dir, config, work_dir)
    rec = run_dir / 'records_preempted' / 'rank0.jsonl'
    wait_for(lambda: rec.is_file() and len(rec.read_text().splitlines()) >= 2, proc,
             'two iterations')
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=TIMEOUT) == PREEMPTED_EXIT_CODE
    done = len(records(run_dir, 'preempted'))  # iterations finished before exiting
    assert 2 <= done < MAX_ITERS
    ckpt = work_dir / f'iter_{done}.pth'
    assert torch.load(ckpt, weights_only=False)['meta']['iter'] == done
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(ckpt)
    resumed_cfg = write_run_config(run_dir, 'preempted_resumed', EMBEDDED, max_iters=MAX_ITERS,
                               ckpt_interval=100)
    train(run_dir, resumed_cfg, str(work_dir), '--resume')
    resumed = records(run_dir, 'preempted_resumed')
    assert resumed[0]['iter'] == done
    assert_same_losses(resumed, uninterrupted)
