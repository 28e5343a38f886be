"""The region proposal network tests build mmdet parts by their registered names (fixtures
``tiny_cfg`` and ``make_batch``: :mod:`uniperceiver_v2.testing.fixtures`)."""
import pytest
from mmengine.registry import init_default_scope

import uniperceiver_v2  # noqa: F401  (registers the plugin)


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    init_default_scope('mmdet')
