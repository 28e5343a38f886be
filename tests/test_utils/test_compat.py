"""The compatibility shims: resuming from MMEngine's own checkpoints under torch's safe loader."""
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from uniperceiver_v2.utils import apply_compat, mmengine_checkpoint_globals


@pytest.fixture(autouse=True, scope='module')
def compat():
    """What the entry points (tools/train.py, tools/test.py) do first."""
    apply_compat()


def _runner(work_dir, max_iters, resume):
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Model(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(inputs)
            if mode == 'loss':
                return {'loss': ((out - data_samples) ** 2).mean()}
            return out

    x = torch.randn(16, 2)
    dataset = [dict(inputs=x[i], data_samples=x[i, :1] * 2) for i in range(16)]
    return Runner(
        model=Model(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=dataset, sampler=dict(type='InfiniteSampler', shuffle=False),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False)),
        resume=resume, load_from=None, randomness=dict(seed=0), default_scope='mmengine',
        experiment_name=f'compat_{max_iters}_{resume}')


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    """A checkpoint written by an mmengine Runner loads with torch's default safe loader."""
    runner = _runner(tmp_path, max_iters=3, resume=False)
    runner.train()
    ckpt_path = tmp_path / 'iter_3.pth'
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 3
    assert 'message_hub' in ckpt and 'optimizer' in ckpt


def test_save_then_resume_round_trip(tmp_path):
    """Train 3 iterations, resume to 6: iteration counter, weights and optimizer state continue."""
    _runner(tmp_path, max_iters=3, resume=False).train()
    saved = torch.load(tmp_path / 'iter_3.pth', map_location='cpu', weights_only=True)

    runner = _runner(tmp_path, max_iters=6, resume=True)
    runner.train()
    assert runner.iter == 6
    # The resumed run started from the saved state, so its optimizer took 6 steps in all.
    state = runner.optim_wrapper.optimizer.state_dict()['state']
    assert int(state[0]['step']) == 6
    assert int(saved['optimizer']['state'][0]['step']) == 3


def test_allow_list_is_exact_not_permissive(tmp_path):
    """Safety stays on: a pickled global outside the allow-list is still refused."""
    assert all(g is not None for g in mmengine_checkpoint_globals())
    from mmengine.logging.history_buffer import HistoryBuffer
    from uniperceiver_v2.utils.compat import history_buffer_statistic
    assert history_buffer_statistic(HistoryBuffer, "mean") is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError):
        history_buffer_statistic(np.ndarray, "tofile")
    path = tmp_path / 'evil.pth'
    torch.save({'obj': pickle.Pickler}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    """A write interrupted half-way (e.g. Ctrl-C) leaves the previous checkpoint intact."""
    from mmengine.fileio.backends import LocalBackend

    target = tmp_path / 'ckpt.pth'
    backend = LocalBackend()
    backend.put(b'old-complete-checkpoint', target)

    class Interrupted(BaseException):
        pass

    real_fdopen = __import__('os').fdopen

    class _HalfWriter:

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:3])
            raise Interrupted()

    monkeypatch.setattr('uniperceiver_v2.utils.compat.os.fdopen',
                        lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(Interrupted):
        backend.put(b'new-checkpoint-bytes', target)
    assert target.read_bytes() == b'old-complete-checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ckpt.pth']


def test_scoped_allow_list_leaves_the_process_wide_one_alone(tmp_path):
    """A plugin checkpoint read (the stage-1 proposal checkpoint) inside checkpoint_safe_globals
    must not undo apply_compat: torch's own context manager removes what it was given on exit."""
    from uniperceiver_v2.utils import checkpoint_safe_globals
    from mmengine.logging.history_buffer import HistoryBuffer
    path = tmp_path / 'hub.pth'
    torch.save({'buffer': HistoryBuffer([1.0, 2.0], [1, 1])}, path)
    with checkpoint_safe_globals():
        torch.load(path, weights_only=True)
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    torch.load(path, weights_only=True)  # what MMEngine's resume does afterwards
