"""TBGN survives tools/train.py --amp (which sets optim_wrapper.type='AmpOptimWrapper')."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))

CONFIG = '''
custom_imports = dict(imports=['uniperceiver_v2', 'multi_task_standin'], allow_failed_imports=False)
default_scope = 'mmengine'
model = dict(type='StandInMultiTaskModel')
_loader = dict(batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler'),
               collate_fn=dict(type='default_collate'))
train_dataloader = dict(cls=dict(_loader, dataset=dict(type='ToyTaskDataset', task='cls')),
                        ret=dict(_loader, dataset=dict(type='ToyTaskDataset', task='ret')))
train_cfg = dict(type='MultiTaskTrainLoop', max_iters=3, val_interval=100,
                 tasks=dict(cls=dict(sampling_weight=1.), ret=dict(sampling_weight=1.)))
optim_wrapper = dict(type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-3), task_weights=dict(cls=1., ret=1.))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False))
log_processor = dict(by_epoch=False)
'''


@pytest.mark.integration
def test_train_py_amp_builds_amp_tbgn(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CONFIG)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [osp.join(ROOT, 'tests', 'test_engine'), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(cfg), '--amp',
                           '--work-dir', str(tmp_path / 'work')], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = torch.load(tmp_path / 'work' / 'iter_3.pth', map_location='cpu', weights_only=False)
    state = ckpt['optimizer']
    assert 'tbgn' in state and 'loss_scaler' in state  # AmpTBGNOptimWrapper's state
    assert sum(state['tbgn']['task_steps'].values()) == 3
