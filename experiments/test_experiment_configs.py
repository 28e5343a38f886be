"""Every experiment config loads, loads the plugin, and names only files that exist."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

HERE = osp.dirname(osp.abspath(__file__))
CONFIGS = sorted(glob.glob(osp.join(HERE, '*', 'configs', '**', '*.py'), recursive=True))


def test_configs_found():
    studies = {osp.relpath(c, HERE).split(osp.sep)[0] for c in CONFIGS}
    assert {'ablations', 'generalist_vs_specialists', 'open_vocabulary'} <= studies


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, HERE))
def test_config_loads(path):
    cfg = Config.fromfile(path)
    # mmdet for the generalist and the detection specialist; a stock mmpretrain classifier keeps
    # its own scope
    assert cfg.get('default_scope') in ('mmdet', 'mmpretrain')
    assert 'uniperceiver_v2' in cfg.custom_imports['imports']
    if 'tasks' in cfg.get('train_cfg', {}):
        assert set(cfg.train_dataloader) == set(cfg.train_cfg.tasks)
