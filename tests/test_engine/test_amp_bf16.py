"""``tools/train.py --amp bf16``: bf16 autocast without loss scaling under TBGN, through the real
model (the tiny synthetic config: Mask DINO proposal network, text encoder, MoE decoder, every
task's loss); plain ``--amp`` and ``--amp fp16`` keep fp16 with dynamic loss scaling."""
import os.path as osp
import tempfile

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from uniperceiver_v2.engine import AmpTBGNOptimWrapper
from uniperceiver_v2.testing import build_model, load_config, synthetic_batch
from uniperceiver_v2.utils.launch import parse_train_args, set_amp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def tbgn_cfg() -> Config:
    return Config(dict(optim_wrapper=dict(
        type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3), task_weights=dict(a=1.0))))


@pytest.mark.parametrize('argv, dtype', [(['--amp'], None), (['--amp', 'fp16'], 'float16'),
                                         (['--amp', 'bf16'], 'bfloat16')])
def test_amp_flag_sets_wrapper_and_dtype(argv, dtype):
    args = parse_train_args(['cfg.py'] + argv)
    cfg = tbgn_cfg()
    set_amp(cfg, args.amp)
    # plain --amp is exactly the former switch (mmdet's): AmpOptimWrapper + dynamic scaling
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.get('dtype') == dtype
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper.to_dict())
    assert type(wrapper) is AmpTBGNOptimWrapper
    if dtype == 'float16':
        assert wrapper.cast_dtype == torch.float16 and wrapper.loss_scaler.is_enabled()
        assert wrapper.loss_scaler.get_scale() == 65536.0
    else:  # bf16 (explicit, or the CPU default of plain --amp): no loss scaling
        assert wrapper.cast_dtype == torch.bfloat16 and not wrapper.loss_scaler.is_enabled()
    assert parse_train_args(['cfg.py']).amp is None
    with pytest.raises(ValueError, match='--amp'):
        set_amp(cfg, 'fp8')


@pytest.mark.integration
def test_bf16_autocast_trains_every_task_of_the_real_model(synthetic_cwd, monkeypatch):
    monkeypatch.chdir(synthetic_cwd)
    torch.manual_seed(0)
    cfg = load_config(osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py'))
    with tempfile.TemporaryDirectory() as tmp:  # initialised, without the stage-1 checkpoint
        model, _ = build_model(cfg, True, tmp)
    set_amp(cfg, 'bf16')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
    assert type(wrapper) is AmpTBGNOptimWrapper and not wrapper.loss_scaler.is_enabled()
    wrapper.set_task_sampling({t: float(c.get('sampling_weight', 1.0))
                               for t, c in cfg.train_cfg.tasks.items()})
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen.setdefault(name, set()).add(output.dtype)
        return hook

    linears = {'decoder': next(m for m in model.decoder.modules()
                               if isinstance(m, torch.nn.Linear)),
               'text': next(m for m in model.text_encoder.modules()
                            if isinstance(m, torch.nn.Linear))}
    for name, module in linears.items():
        module.register_forward_hook(record(name))
    model.train()
    for task in model.tasks:
        before = [p.detach().clone() for p in model.decoder.parameters()]
        batch = synthetic_batch(model.tasks[task], 2, (64, 64), training=True, seed=1)
        log = model.train_step(dict(batch, task=task), wrapper)
        assert torch.isfinite(log['loss']), (task, log)
        assert wrapper.optimizer.last_grad_norm > 0, task
        assert any(not torch.equal(p, b) for p, b in zip(model.decoder.parameters(), before))
    assert seen['decoder'] == {torch.bfloat16} and seen['text'] == {torch.bfloat16}
    # master weights and optimizer moments stay fp32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(s['exp_avg'].dtype == torch.float32 for s in wrapper.optimizer.state.values())
    assert wrapper.skipped_steps == 0 and sum(wrapper.state_dict()['tbgn']['task_steps'].values()) \
        == len(model.tasks)
