"""Shared pytest fixtures; puts tools/data on sys.path for the synthetic scene generator."""
import os
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', 'data'))
from synthetic_scenes import generate_synthetic_scenes  # noqa: E402

#: Size of the tiny synthetic copy shared by the whole test session.
SYNTHETIC_TEST_SIZES = dict(num_train=12, num_val=6, num_test=6, image_size=64, seed=0)


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny synthetic multi-task dataset (12/6/6 images of 64 px), generated once per session.

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
