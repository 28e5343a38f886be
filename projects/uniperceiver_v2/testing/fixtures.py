"""pytest fixtures shared by the test suite and the experiments' tests.

Load them with ``-p uniperceiver_v2.testing.fixtures`` (this repository's ``setup.cfg`` does).
Loading them applies :func:`uniperceiver_v2.utils.apply_compat`, as ``tools/train.py`` does, so
in-process runners resume MMEngine checkpoints under torch's safe loader.
"""
import os
from pathlib import Path
from typing import Callable

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ..datasets.synthetic_scenes import generate_synthetic_scenes
from ..utils import apply_compat
from .detection import TINY_MASKDINO_CFG, make_batch as _make_batch
from .entry_points import STAGE1, STAGE1_SMALL, train

apply_compat()

#: Size of the tiny synthetic copy shared by every test of one pytest run.
SYNTHETIC_TEST_SIZES = dict(num_train=12, num_val=6, num_test=6, image_size=64, seed=0)


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny synthetic multi-task dataset (12/6/6 images of 64 px), generated once per pytest run.

    Returns:
        dict: The paths returned by :func:`generate_synthetic_scenes` (``data_root``,
        ``classes_file``, and per split ``img_dir``, ``instances``, ``karpathy``, ``captions``,
        ``imagenet_ann``, ``num_images``).
    """
    out_dir = tmp_path_factory.mktemp('synthetic')
    return generate_synthetic_scenes(str(out_dir), **SYNTHETIC_TEST_SIZES)


@pytest.fixture(scope='session')
def synthetic_cwd(synthetic_data: dict, tmp_path_factory: pytest.TempPathFactory):
    """A working directory whose ``data/synthetic`` is the tiny generated dataset (the configs'
    relative ``data/synthetic/...`` paths resolve against it)."""
    cwd = tmp_path_factory.mktemp('cwd')
    os.makedirs(cwd / 'data')
    os.symlink(synthetic_data['data_root'], cwd / 'data' / 'synthetic')
    return cwd


@pytest.fixture(scope='module')
def run_dir(synthetic_data: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``data/synthetic`` is the run's tiny synthetic copy (the configs'
    path), one per test module."""
    d = tmp_path_factory.mktemp('train_entry')
    (d / 'data').mkdir()
    (d / 'data' / 'synthetic').symlink_to(synthetic_data['data_root'], target_is_directory=True)
    return d


@pytest.fixture(scope='module')
def stage1_checkpoint(run_dir: Path) -> Path:
    """Stage 1 of the embedded default through ``tools/train.py`` (2 iterations of batch 2),
    written to ``run_dir/w_stage1/iter_2.pth``."""
    work_dir = run_dir / 'w_stage1'
    train(run_dir, STAGE1, str(work_dir), *STAGE1_SMALL)
    return work_dir / 'iter_2.pth'



@pytest.fixture
def tiny_cfg() -> Config:
    """The tiny proposal network / image encoder config (width 32, 20 queries, 2 decoder
    layers), with mmdet as the default scope."""
    init_default_scope('mmdet')
    return Config.fromfile(TINY_MASKDINO_CFG)


@pytest.fixture
def make_batch() -> Callable:
    """``make_batch(shapes, num_gts, pad=(64, 96))`` -> (inputs, data samples)."""
    return _make_batch
