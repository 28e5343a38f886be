"""Shared pytest fixtures."""
import pytest

from uniperceiver_v2.datasets.synthetic_scenes import generate_synthetic_scenes

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
