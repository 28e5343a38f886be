"""Running the real entry points (``tools/train.py``, ``tools/dist_train.sh``) from tests.

Only meaningful in a source checkout (the package installed editable from this repository):
:data:`REPO_ROOT` is the checkout that holds ``tools/`` and ``configs/``.
"""
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import torch

from .train_record_hook import write_small_run_config

#: The repository checkout this package is installed from (editable install).
REPO_ROOT = Path(__file__).resolve().parents[3]
#: Stage 2 of the embedded default and its stage 1 (the class-agnostic proposal network).
EMBEDDED = REPO_ROOT / 'configs' / 'upv2_mobilenetv2_1xcpu-770it_synthetic.py'
STAGE1 = (REPO_ROOT / 'configs' / 'proposal_network' /
          'maskdino-proposal_mobilenetv2_1xcpu-440it_synthetic.py')
#: Overrides that make stage 1 two iterations of batch 2 without validation.
STAGE1_SMALL = ('--cfg-options', 'train_cfg.max_iters=2',
                'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
                'test_cfg=None', 'test_dataloader=None', 'test_evaluator=None',
                'train_dataloader.batch_size=2',
                'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                'default_hooks.checkpoint.interval=2')
#: Seconds one training command may take.
TIMEOUT = 600


def free_port() -> int:
    """A free TCP port on this machine (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train_env() -> Dict[str, str]:
    """The environment of a training subprocess: the repository on ``PYTHONPATH`` (so configs
    under ``experiments/`` can import their own modules, as with mmdet's ``projects/``), one
    OpenMP thread, a free port, and no CUDA devices."""
    out = dict(os.environ)
    out['PYTHONPATH'] = os.pathsep.join([str(REPO_ROOT), out.get('PYTHONPATH', '')])
    out.update(OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=str(free_port()))
    out.pop('CUDA_VISIBLE_DEVICES', None)
    return out


def train(run_dir: Path, config: Path, work_dir: str, *args: str, ranks: int = 1,
          check: bool = True) -> subprocess.CompletedProcess:
    """Run ``tools/train.py`` (``tools/dist_train.sh`` for several ranks) in ``run_dir``.

    Args:
        run_dir (Path): the working directory (the configs' relative data paths resolve there).
        config (Path): the config file.
        work_dir (str): ``--work-dir``.
        *args (str): further command-line arguments.
        ranks (int): number of processes (torchrun + gloo when > 1).
        check (bool): raise with the output's tail when the command fails.
    """
    if ranks > 1:
        cmd = ['bash', str(REPO_ROOT / 'tools' / 'dist_train.sh'), str(config), str(ranks),
               '--work-dir', work_dir, *args]
    else:
        cmd = [sys.executable, str(REPO_ROOT / 'tools' / 'train.py'), str(config), '--work-dir',
               work_dir, *args]
    proc = subprocess.run(cmd, cwd=run_dir, env=train_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    if check and proc.returncode != 0:
        raise AssertionError(f'{cmd} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def write_run_config(run_dir: Path, name: str, base: Path, max_iters: int, ckpt_interval: int,
                     num_workers: int = 0) -> Path:
    """The shipped config ``base`` with CI-sized overrides and :class:`TrainRecordHook`, starting
    from the stage-1 checkpoint of :func:`stage1_checkpoint` (written by then)."""
    return Path(write_small_run_config(str(run_dir / f'{name}.py'), str(base),
                                       str(run_dir / f'records_{name}'), max_iters,
                                       ckpt_interval, num_workers=num_workers,
                                       proposal_checkpoint=str(run_dir / 'w_stage1' / 'iter_2.pth')))



def records(run_dir: Path, name: str, rank: int = 0) -> List[dict]:
    """The iterations :class:`TrainRecordHook` recorded for run ``name`` on ``rank``."""
    path = run_dir / f'records_{name}' / f'rank{rank}.jsonl'
    return [json.loads(line) for line in path.read_text().splitlines()]


def params(run_dir: Path, name: str, rank: int) -> Dict[str, torch.Tensor]:
    """The final parameters :class:`TrainRecordHook` saved for run ``name`` on ``rank``."""
    return torch.load(run_dir / f'records_{name}' / f'rank{rank}_params.pt')


def assert_finite(recs: List[dict]) -> None:
    """Every recorded iteration logged losses, all finite."""
    for r in recs:
        assert r['losses'] and all(math.isfinite(v) for v in r['losses'].values()), r


def assert_bit_identical(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> None:
    """Two ranks' parameters are equal bit for bit."""
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'parameters differ across ranks: {different[:5]}'
