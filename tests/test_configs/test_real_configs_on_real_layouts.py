"""Every shipped real-data config trains, validates, tests and resumes on the real file layouts.

The data is the mock of :mod:`uniperceiver_v2.testing.real_layouts` (real file names, JSON keys
and quirks).  A run config (:func:`~uniperceiver_v2.testing.real_configs.write_real_run_config`)
keeps each shipped config as it is except what a machine without the model hub forces - the text
model (a local directory) and, for the first training run only, the ``Pretrained`` URLs - and
size: 2 iterations at batch 1, image scales x0.25, one decoder layer, a shallower proposal
transformer, a small Swin for Large, and the captioning / language-modelling vocabulary from the
caption file (the full-vocabulary target set does not fit the CI budget).

Per config: ``tools/train.py`` (2 iterations and one validation of every task), ``tools/test.py``
on its checkpoint and ``tools/train.py --resume`` - both with the ``Pretrained`` URLs and the
stage-1 path of the shipped config left in and every download made to fail, so they pass only if
nothing is fetched before the checkpoint is loaded.
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

from uniperceiver_v2.testing.entry_points import REPO_ROOT, train_env
from uniperceiver_v2.testing.offline_build import make_text_stub
from uniperceiver_v2.testing.real_configs import (REAL_RUNS, SMALL_DEPTH, offline_env,
                                                  write_real_run_config)
from uniperceiver_v2.testing.real_layouts import generate_real_layouts

pytestmark = pytest.mark.integration

CONFIGS = REPO_ROOT / 'configs'


@pytest.fixture(scope='module')
def real_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``data/`` is the mock of the real layouts, with an offline text model."""
    d = tmp_path_factory.mktemp('real_layouts')
    generate_real_layouts(str(d / 'data'))
    make_text_stub(str(d / 'text_model'))
    return d


def run(run_dir: Path, script: str, *args: str) -> str:
    """Run ``tools/<script>`` offline in ``run_dir``; return its output (raise on failure)."""
    cmd = [sys.executable, str(REPO_ROOT / 'tools' / script), *args]
    proc = subprocess.run(cmd, cwd=run_dir, env=offline_env(train_env()), capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f'{cmd} exited {proc.returncode}:\n{out[-8000:]}')
    return out


def metrics(output: str) -> Dict[str, float]:
    """The ``task/metric: value`` pairs of the ``Iter(val)`` / ``Iter(test)`` summary lines."""
    found = {}
    for line in output.splitlines():
        if re.search(r'Iter\((val|test)\)', line):
            found.update({k: float(v) for k, v in
                          re.findall(r'(\w+(?:/[\w@.-]+)+): (-?[\d.]+(?:e-?\d+)?)', line)})
    return found


def write(run_dir: Path, name: str, config: str, overrides: dict, backbone: Optional[dict],
          max_iters: int, drop_pretrained: bool, validate: bool = True) -> Path:
    """The CI-sized run config of ``config`` (see the module docstring); with
    ``drop_pretrained=False`` the shipped ``Pretrained`` URLs and a missing stage-1 path stay."""
    extra = dict(SMALL_DEPTH, **overrides)
    if not validate:
        extra.update(val_cfg=None, val_dataloader=None, val_evaluator=None)
    return write_real_run_config(
        CONFIGS / config, run_dir / f'{name}.py', text_model=str(run_dir / 'text_model'),
        max_iters=max_iters, batch_size=1, scale_factor=0.25, drop_pretrained=drop_pretrained,
        proposal_checkpoint=None if drop_pretrained else 'work_dirs/no-stage-1-here.pth',
        backbone=backbone, extra=extra, eval_batch_size=4)


@pytest.mark.parametrize('name', list(REAL_RUNS))
def test_train_validate_test_resume(real_run_dir: Path, name: str):
    config, overrides, backbone, full = REAL_RUNS[name]
    work = real_run_dir / f'w_{name}'
    # 1. train 2 iterations offline (Pretrained URLs dropped: nothing to start from offline)
    first = write(real_run_dir, f'{name}_train', config, overrides, backbone, 2,
                  drop_pretrained=True, validate=full)
    out = run(real_run_dir, 'train.py', str(first), '--work-dir', str(work))
    assert (work / 'iter_2.pth').is_file()
    # the shipped config, its Pretrained URLs and a missing stage-1 path left in
    shipped = write(real_run_dir, f'{name}_shipped', config, overrides, backbone, 3,
                    drop_pretrained=False, validate=False)
    if full:
        val = metrics(out)
        tasks = set(run_tasks(first))
        assert tasks and {k.split('/')[0] for k in val} == tasks, (sorted(val), tasks)
        # 2. tools/test.py: nothing is fetched (the checkpoint holds every weight)
        out = run(real_run_dir, 'test.py', str(shipped), str(work / 'iter_2.pth'),
                  '--work-dir', str(real_run_dir / f't_{name}'))
        assert {k.split('/')[0] for k in metrics(out)} == set(run_tasks(shipped, 'test')), out
    # 3. --resume with the network absent: loads iter_2.pth without fetching Pretrained weights
    out = run(real_run_dir, 'train.py', str(shipped), '--work-dir', str(work), '--resume')
    assert 'resumed' in out.lower() or 'Iter(train) [3/3]' in out
    assert 'Iter(train) [3/3]' in out and 'Iter(train) [1/3]' not in out
    assert (work / 'iter_3.pth').is_file()
    assert 'not loaded first' in out  # the skipped weights are logged


def run_tasks(config: Path, split: str = 'val'):
    """The task names of a run config's ``<split>_dataloader``."""
    from mmengine.config import Config
    return list(Config.fromfile(str(config)).get(f'{split}_dataloader') or {})


def test_mock_is_generated_by_the_tool(tmp_path):
    """``tools/data/generate_real_layouts.py`` writes the same layout (its thin CLI)."""
    subprocess.run([sys.executable, str(REPO_ROOT / 'tools' / 'data' /
                                        'generate_real_layouts.py'), '--out-dir',
                    str(tmp_path / 'data')], check=True, env=train_env(), capture_output=True)
    assert (tmp_path / 'data' / 'coco' / 'refcoco' / 'refs(unc).p').is_file()
    assert (tmp_path / 'data' / 'flickr30k' / 'annotations' / 'dataset_flickr30k.json').is_file()
    assert os.listdir(tmp_path / 'data' / 'ade' / 'ADEChallengeData2016' / 'images')
