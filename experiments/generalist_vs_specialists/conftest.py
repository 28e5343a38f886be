"""Fixtures of the specialist head's tests: the tiny proposal-network config and tiny batches."""
from typing import Callable

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import uniperceiver_v2  # noqa: F401  (registers the plugin)
from uniperceiver_v2.testing.detection import TINY_MASKDINO_CFG, make_batch as _make_batch


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope('mmdet')


@pytest.fixture
def tiny_cfg() -> Config:
    """The tiny proposal network / image encoder config."""
    return Config.fromfile(TINY_MASKDINO_CFG)


@pytest.fixture
def make_batch() -> Callable:
    """``make_batch(shapes, num_gts, pad=(64, 96))`` -> (inputs, data samples)."""
    return _make_batch
