"""The real UniPerceiverV2 of the embedded default through the real entry points.

``tools/dist_train.sh`` (torchrun, 2 gloo processes on this CPU machine) with unmixed and mixed
sampling, a 2-rank checkpoint resumed in one process, exact resume after ``kill -9``, and SIGTERM
preemption.  Every run is the shipped config (``configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py`` or its mixed
ablation) with CI-sized overrides only: the session's tiny synthetic copy (12 images of 64 px), small
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
from train_record_hook import write_small_run_config  # noqa: E402
EMBEDDED = ROOT / 'configs' / 'upv2_mobilenetv2_1xcpu-770it_synthetic.py'
EMBEDDED_MIXED = ROOT / 'configs' / 'ablations' / 'upv2_tiny_synthetic_mixed.py'
STAGE1 = ROOT / 'configs' / 'proposal_network' / 'maskdino-proposal_mobilenetv2_1xcpu-440it_synthetic.py'
SPECIALIST = ROOT / 'configs' / 'specialists' / 'maskdino_mobilenetv2_20cls_synthetic.py'
CLASS_SPECIFIC = '[bbox_head.cls_branches,dn_query_generator.label_embedding]'
PREEMPTED_EXIT_CODE = 75
TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def run_dir(synthetic_data, tmp_path_factory) -> Path:
    """A folder whose ``data/synthetic`` is the session's tiny synthetic copy (the configs' path)."""
    d = tmp_path_factory.mktemp('train_entry')
    (d / 'data').mkdir()
    (d / 'data' / 'synthetic').symlink_to(synthetic_data['data_root'], target_is_directory=True)
    return d


STAGE1_SMALL = ('--cfg-options', 'train_cfg.max_iters=2',
                'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
                'test_cfg=None', 'test_dataloader=None', 'test_evaluator=None',
                'train_dataloader.batch_size=2',
                'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                'default_hooks.checkpoint.interval=2')


@pytest.fixture(scope='module', autouse=True)
def stage1_checkpoint(run_dir) -> Path:
    """Stage 1 of the embedded default, through tools/train.py (2 iterations of batch 2)."""
    work_dir = run_dir / 'w_stage1'
    train(run_dir, STAGE1, str(work_dir), *STAGE1_SMALL)
    return work_dir / 'iter_2.pth'


def write_config(run_dir: Path, name: str, base: Path, max_iters: int, ckpt_interval: int,
                 num_workers: int = 0) -> Path:
    """The shipped config ``base`` with CI-sized overrides and the record hook, starting from
    the stage-1 checkpoint of :func:`stage1_checkpoint` (written by then)."""
    return Path(write_small_run_config(str(run_dir / f'{name}.py'), str(base),
                                       str(run_dir / f'records_{name}'), max_iters,
                                       ckpt_interval, num_workers=num_workers,
                                       proposal_checkpoint=str(run_dir / 'w_stage1' / 'iter_2.pth')))


def env() -> Dict[str, str]:
    out = dict(os.environ)
    out['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT / 'tools' / 'analysis'), str(ROOT / 'projects'), out.get('PYTHONPATH', '')])
    out.update(OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=str(_free_port()))
    out.pop('CUDA_VISIBLE_DEVICES', None)
    return out


def train(run_dir: Path, config: Path, work_dir: str, *args: str, ranks: int = 1,
          check: bool = True) -> subprocess.CompletedProcess:
    if ranks > 1:
        cmd = ['bash', str(ROOT / 'tools' / 'dist_train.sh'), str(config), str(ranks),
               '--work-dir', work_dir, *args]
    else:
        cmd = [sys.executable, str(ROOT / 'tools' / 'train.py'), str(config), '--work-dir',
               work_dir, *args]
    proc = subprocess.run(cmd, cwd=run_dir, env=env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    if check and proc.returncode != 0:
        raise AssertionError(f'{cmd} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def records(run_dir: Path, name: str, rank: int = 0) -> List[dict]:
    path = run_dir / f'records_{name}' / f'rank{rank}.jsonl'
    return [json.loads(line) for line in path.read_text().splitlines()]


def params(run_dir: Path, name: str, rank: int) -> Dict[str, torch.Tensor]:
    return torch.load(run_dir / f'records_{name}' / f'rank{rank}_params.pt')


def assert_finite(recs: List[dict]) -> None:
    for r in recs:
        assert r['losses'] and all(math.isfinite(v) for v in r['losses'].values()), r


def assert_bit_identical(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'parameters differ across ranks: {different[:5]}'


# ------------------------------------------------------------------------------ 2 ranks
@pytest.fixture(scope='module')
def unmixed_two_ranks(run_dir) -> str:
    config = write_config(run_dir, 'unmixed', EMBEDDED, max_iters=10, ckpt_interval=10)
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
    config = write_config(run_dir, 'unmixed_resumed', EMBEDDED, max_iters=12, ckpt_interval=12)
    ckpt = run_dir / 'w_unmixed' / 'iter_10.pth'
    assert ckpt.is_file()
    proc = train(run_dir, config, str(run_dir / 'w_unmixed_resumed'), '--resume', str(ckpt))
    resumed = records(run_dir, 'unmixed_resumed')
    assert [r['iter'] for r in resumed] == [10, 11]
    assert_finite(resumed)
    assert 'not an exact resume' in proc.stdout + proc.stderr  # 2 ranks -> 1 rank is said


def test_two_ranks_mixed_sampling_runs(run_dir):
    config = write_config(run_dir, 'mixed', EMBEDDED_MIXED, max_iters=10, ckpt_interval=10)
    train(run_dir, config, str(run_dir / 'w_mixed'), ranks=2)
    r0, r1 = records(run_dir, 'mixed', 0), records(run_dir, 'mixed', 1)
    assert len(r0) == len(r1) == 10
    t0, t1 = [r['task'] for r in r0], [r['task'] for r in r1]
    assert t0 != t1  # mixed: ranks draw their own tasks
    assert 'syn_det' in t0 + t1 and 'syn_ret' in t0 + t1
    assert_finite(r0 + r1)
    assert_bit_identical(params(run_dir, 'mixed', 0), params(run_dir, 'mixed', 1))


def test_mixed_sampling_refuses_collectives_on_several_ranks(run_dir):
    """The embedded default's gathered negatives and synced normalisers cannot run mixed."""
    config = write_config(run_dir, 'mixed_bad', EMBEDDED, max_iters=2, ckpt_interval=2)
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
    config = write_config(run_dir, 'full', EMBEDDED, max_iters=MAX_ITERS, ckpt_interval=3,
                          num_workers=1)
    train(run_dir, config, str(run_dir / 'w_full'))
    recs = records(run_dir, 'full')
    assert [r['iter'] for r in recs] == list(range(MAX_ITERS))
    return recs


def start(run_dir: Path, config: Path, work_dir: Path) -> subprocess.Popen:
    """Training in a process group of its own (so a test can signal all of it, as Slurm does)."""
    log = open(run_dir / f'{config.stem}.log', 'w')
    return subprocess.Popen([sys.executable, str(ROOT / 'tools' / 'train.py'), str(config),
                             '--work-dir', str(work_dir)], cwd=run_dir, env=env(), stdout=log,
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
    config = write_config(run_dir, 'killed', EMBEDDED, max_iters=MAX_ITERS, ckpt_interval=3)
    work_dir = run_dir / 'w_killed'
    proc = start(run_dir, config, work_dir)
    wait_for(lambda: (work_dir / 'iter_3.pth').is_file(), proc, 'iter_3.pth')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed_cfg = write_config(run_dir, 'killed_resumed', EMBEDDED, max_iters=MAX_ITERS,
                               ckpt_interval=3)
    train(run_dir, resumed_cfg, str(work_dir), '--resume', str(work_dir / 'iter_3.pth'))
    resumed = records(run_dir, 'killed_resumed')
    assert resumed[0]['iter'] == 3
    # the resumed part draws denoising noise (detection) and random captions (retrieval)
    assert {'syn_det', 'syn_ret'} <= {r['task'] for r in resumed}
    assert_same_losses(resumed, uninterrupted)


def test_sigterm_checkpoints_exits_75_and_resumes_exactly(run_dir, uninterrupted):
    # data workers as in the shipped config; Slurm signals every process of the job, workers too
    config = write_config(run_dir, 'preempted', EMBEDDED, max_iters=MAX_ITERS, ckpt_interval=100,
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
    resumed_cfg = write_config(run_dir, 'preempted_resumed', EMBEDDED, max_iters=MAX_ITERS,
                               ckpt_interval=100)
    train(run_dir, resumed_cfg, str(work_dir), '--resume')
    resumed = records(run_dir, 'preempted_resumed')
    assert resumed[0]['iter'] == done
    assert_same_losses(resumed, uninterrupted)



def test_class_aware_stage1_starts_the_default_with_its_classes_skipped(run_dir):
    """A class-aware stage 1 (the 20-class detection specialist, docs/embedded_detection.md
    section 10) hands over to the default through tools/train.py only with
    ``model.image_encoder.proposal_checkpoint_skip``; without it the run stops with an error that
    names that key."""
    train(run_dir, SPECIALIST, str(run_dir / 'w_stage1_20cls'), *STAGE1_SMALL)
    config = Path(write_small_run_config(
        str(run_dir / 'from_20cls.py'), str(EMBEDDED), str(run_dir / 'records_from_20cls'), 2, 2,
        proposal_checkpoint=str(run_dir / 'w_stage1_20cls' / 'iter_2.pth')))
    refused = train(run_dir, config, str(run_dir / 'w_from_20cls_refused'), check=False)
    assert refused.returncode != 0
    assert 'model.image_encoder.proposal_checkpoint_skip' in refused.stdout + refused.stderr
    done = train(run_dir, config, str(run_dir / 'w_from_20cls'), '--cfg-options',
                 f'model.image_encoder.proposal_checkpoint_skip={CLASS_SPECIFIC}')
    assert 'keeping' in done.stdout + done.stderr  # the loader's log line names what it skipped
    recs = records(run_dir, 'from_20cls')
    assert len(recs) == 2
    assert_finite(recs)
