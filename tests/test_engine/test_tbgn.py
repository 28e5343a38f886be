"""TBGN optimizer wrapper (the MMEngine shell over the TBGN optimizer) against the float64
reference of paper §4; task and s_k handed in explicitly; checkpoints."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.optim.scheduler import LinearLR
from torch import nn

import uniperceiver_v2  # noqa: F401  (registers the wrappers)
from tbgn_reference import PaperTBGN
from uniperceiver_v2.engine import TBGN, AmpTBGNOptimWrapper, TBGNOptimWrapper
from uniperceiver_v2.engine import tbgn as tbgn_module

B1, B2 = 0.9, 0.95  # torch convention; the paper's β is 1 - these
EPS, WD = 1e-8, 0.05


class TwoTaskNet(nn.Module):
    """A shared trunk and one head per task: each task leaves the other head without gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(4, 6)
        self.head_a = nn.Linear(6, 3)
        self.head_b = nn.Linear(6, 2)

    def loss(self, task: str, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.trunk(x))
        out = self.head_a(h) if task == 'a' else self.head_b(h)
        return (out**2).mean() * (100.0 if task == 'b' else 1.0)  # loss scale must not matter


def make(seed=0, wrapper_cls=TBGNOptimWrapper, probs=dict(a=1.0, b=1.0), **kwargs):
    """Model and wrapper over AdamW (two param groups), the loop's sampling handed in."""
    torch.manual_seed(seed)
    model = TwoTaskNet()
    groups = [dict(params=list(model.trunk.parameters())),
              dict(params=list(model.head_a.parameters()) + list(model.head_b.parameters()),
                   lr=3e-3)]
    opt = torch.optim.AdamW(groups, lr=1e-2, betas=(B1, B2), eps=EPS, weight_decay=WD)
    wrapper = wrapper_cls(opt, **kwargs)
    if probs is not None:
        wrapper.set_task_sampling(probs, 'unmixed')  # what MultiTaskTrainLoop does
    return model, wrapper


def params_of(wrapper):
    return [p for g in wrapper.optimizer.param_groups for p in g['params']]


def per_param(wrapper, key):
    return [g[key] for g in wrapper.optimizer.param_groups for _ in g['params']]


@pytest.fixture(autouse=True)
def fresh_hub():
    hub = MessageHub.get_instance('test_tbgn_hub')
    hub.runtime_info.clear()
    MessageHub._instance_dict.move_to_end('test_tbgn_hub')  # make it the current instance
    yield hub
    hub.runtime_info.clear()


def run_and_compare(wrapper, model, ref, tasks, omegas, probs, scheduler=None):
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    for i, task in enumerate(tasks):
        loss = model.loss(task, x + 0.1 * i)
        loss.backward()
        grads = [None if p.grad is None else p.grad.clone() for p in params_of(wrapper)]
        ref.step(grads, per_param(wrapper, 'lr'), per_param(wrapper, 'weight_decay'),
                 omegas[task], probs[task])
        wrapper.step(task=task)
        assert all(g is None or torch.equal(p.grad, g) for p, g in zip(params_of(wrapper), grads))
        wrapper.zero_grad()
        if scheduler is not None:
            scheduler.step()
        for p, r in zip(params_of(wrapper), ref.params):
            torch.testing.assert_close(p.detach().double(), r, rtol=1e-5, atol=1e-6)


def test_matches_paper_equations_two_tasks(fresh_hub):
    omegas, weights = dict(a=1.0, b=2.0), dict(a=7.0, b=3.0)
    model, wrapper = make(task_weights=omegas, probs=weights)
    assert isinstance(wrapper.optimizer, TBGN)
    ref = PaperTBGN(params_of(wrapper), betas=(B1, B2), eps=EPS)
    scheduler = LinearLR(wrapper, start_factor=0.25, by_epoch=False, begin=0, end=4)
    lr0 = per_param(wrapper, 'lr')
    run_and_compare(wrapper, model, ref, list('aabab' 'baab'), omegas,
                    {k: v / 10 for k, v in weights.items()}, scheduler)
    assert per_param(wrapper, 'lr') != lr0  # the scheduler drove the lr the update used
    assert wrapper.task_steps == dict(a=5, b=4)
    assert fresh_hub.get_scalar('train/grad_norm').current() == wrapper.optimizer.last_grad_norm
    # head_b first got a gradient at the third step (index 2): its step count lags the trunk's
    st = wrapper.optimizer.state
    assert st[model.trunk.weight]['step'] == 9 and st[model.head_b.weight]['step'] == 7


def test_loop_is_the_only_source_of_s_k():
    """s_k comes from train_cfg.tasks (set_task_sampling); a second value is an error."""
    omegas = dict(a=0.5, b=1.5)
    model, wrapper = make(task_weights=omegas, probs=dict(a=1, b=3))
    assert wrapper.sampling_probs == dict(a=0.25, b=0.75)
    ref = PaperTBGN(params_of(wrapper), betas=(B1, B2), eps=EPS)
    run_and_compare(wrapper, model, ref, list('abba'), omegas, dict(a=0.25, b=0.75))
    with pytest.raises(ValueError, match='optim_wrapper.sampling_weights.*train_cfg.tasks'):
        make(sampling_weights=dict(a=1, b=3), probs=None)
    # a TBGN optimizer's own sampling_probs (its plain-PyTorch argument) must agree with the loop
    tbgn = TBGN(TwoTaskNet().parameters(), sampling_probs=dict(a=1, b=3))
    wrapper = TBGNOptimWrapper(tbgn)
    wrapper.set_task_sampling(dict(a=2.0, b=6.0), 'unmixed')  # the same shares: fine
    assert wrapper.task_factors('b') == (1.0, 0.75)
    with pytest.raises(ValueError, match='optim_wrapper.optimizer.sampling_probs.*train_cfg.tasks'):
        TBGNOptimWrapper(TBGN(TwoTaskNet().parameters(), sampling_probs=dict(a=1, b=3))) \
            .set_task_sampling(dict(a=1.0, b=1.0), 'unmixed')
    with pytest.raises(ValueError, match='optim_wrapper.task_weights.*optim_wrapper.optimizer'):
        TBGNOptimWrapper(TBGN(TwoTaskNet().parameters(), task_weights=dict(a=1.0)),
                         task_weights=dict(a=2.0))


def test_task_and_s_k_errors_name_the_config_keys():
    model, wrapper = make(probs=None)
    model.loss('a', torch.randn(2, 4)).backward()
    with pytest.raises(ValueError, match="needs the batch's task.*MultiTaskTrainLoop"):
        wrapper.step()
    with pytest.raises(ValueError, match='train_cfg.tasks.*set_task_sampling'):
        wrapper.step(task='a')
    _, wrapper = make(task_weights=dict(a=1.0), probs=None)
    with pytest.raises(KeyError, match=r"optim_wrapper.task_weights has no entry for task\(s\) "
                                       r"\['b'\] of train_cfg.tasks"):
        wrapper.set_task_sampling(dict(a=1.0, b=1.0), 'unmixed')


def test_mixed_sampling_across_ranks_is_refused(monkeypatch):
    _, wrapper = make()
    wrapper.set_task_sampling(dict(a=1.0, b=1.0), 'mixed')  # one process: fine
    monkeypatch.setattr(tbgn_module, 'get_world_size', lambda: 2)
    with pytest.raises(RuntimeError, match='unmixed'):
        wrapper.set_task_sampling(dict(a=1.0, b=1.0), 'mixed')


def test_nan_gradient_skips_step(fresh_hub):
    model, wrapper = make()
    x = torch.randn(5, 4)
    for task in 'ab':
        wrapper.update_params(model.loss(task, x), task=task)
    before_p = [p.detach().clone() for p in params_of(wrapper)]
    before_s = copy.deepcopy(wrapper.optimizer.state_dict())
    model.loss('a', x).backward()
    model.trunk.weight.grad[0, 0] = float('nan')
    wrapper.step(task='a')
    assert wrapper.skipped_steps == 1
    assert fresh_hub.get_scalar('train/tbgn_skipped_steps').current() == 1
    for p, b in zip(params_of(wrapper), before_p):
        assert torch.equal(p.detach(), b)
    after_s = wrapper.optimizer.state_dict()['state']
    for k, st in before_s['state'].items():
        for name in ('step', 'exp_avg', 'exp_avg_sq'):
            assert torch.equal(st[name], after_s[k][name])
    assert wrapper.task_steps == dict(a=1, b=1)


def test_state_dict_resume_continues_identically():
    model, wrapper = make(task_weights=dict(a=1.0, b=2.0), probs=dict(a=0.6, b=0.4))
    x = torch.randn(5, 4)
    for task in 'abab':
        wrapper.update_params(model.loss(task, x), task=task)
    saved_state = copy.deepcopy(wrapper.state_dict())
    saved_model = copy.deepcopy(model.state_dict())
    assert saved_state['tbgn'] == dict(task_steps=dict(a=2, b=2), skipped_steps=0)

    model2, wrapper2 = make(seed=123, task_weights=dict(a=1.0, b=2.0), probs=dict(a=0.6, b=0.4))
    model2.load_state_dict(saved_model)
    wrapper2.load_state_dict(saved_state)
    assert wrapper2.task_steps == dict(a=2, b=2)
    for task in 'bba':
        wrapper.update_params(model.loss(task, x), task=task)
        wrapper2.update_params(model2.loss(task, x), task=task)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
    # the checkpoint is AdamW's: the no-TBGN ablation / fine-tuning resumes from it
    adamw = torch.optim.AdamW([dict(params=g['params']) for g in wrapper2.optimizer.param_groups])
    adamw.load_state_dict(copy.deepcopy(saved_state))
    assert torch.equal(adamw.state[model2.trunk.weight]['exp_avg_sq'],
                       saved_state['state'][0]['exp_avg_sq'])


def test_former_checkpoints_with_rescaled_second_moment_are_converted():
    model, wrapper = make()
    for task in 'ab':
        wrapper.update_params(model.loss(task, torch.randn(5, 4)), task=task)
    state = copy.deepcopy(wrapper.state_dict())
    legacy = copy.deepcopy(state)  # the former fused implementation stored j·n per group
    sq_scales = {0: 4.0, 1: 0.5}
    for index, group in enumerate(legacy['param_groups']):
        for key in group['params']:
            if key in legacy['state']:
                legacy['state'][key]['exp_avg_sq'] *= sq_scales[index]
                legacy['state'][key]['step'] = int(legacy['state'][key]['step'])
    legacy['tbgn']['sq_scales'] = sq_scales
    _, wrapper2 = make(seed=1)
    wrapper2.load_state_dict(legacy)
    for p, q in zip(params_of(wrapper), params_of(wrapper2)):
        for name in ('exp_avg', 'exp_avg_sq', 'step'):
            torch.testing.assert_close(wrapper2.optimizer.state[q][name],
                                       wrapper.optimizer.state[p][name])
    assert 'sq_scales' not in wrapper2.state_dict()['tbgn']


def test_constructor_survives_amp_switch_and_keeps_paramwise_lr():
    model = TwoTaskNet()
    cfg = dict(type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-3, betas=(B1, B2), weight_decay=WD),
               paramwise_cfg=dict(custom_keys={'head_a': dict(lr_mult=0.1)}),
               task_weights=dict(a=1.0, b=1.0))
    wrapper = build_optim_wrapper(model, cfg)
    assert type(wrapper) is TBGNOptimWrapper and type(wrapper.optimizer) is TBGN
    cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')  # what mmdet's --amp does
    wrapper = build_optim_wrapper(model, cfg)
    assert type(wrapper) is AmpTBGNOptimWrapper and type(wrapper.optimizer) is TBGN
    assert wrapper.task_weights == dict(a=1.0, b=1.0)
    lrs = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    assert lrs[id(model.head_a.weight)] == pytest.approx(1e-4)
    assert lrs[id(model.trunk.weight)] == pytest.approx(1e-3)
    assert wrapper.optimizer.param_groups[0]['betas'] == (B1, B2)
    with pytest.raises(ValueError, match='optim_wrapper.type'):
        build_optim_wrapper(model, dict(cfg, type='ZeroRedundancyOptimizer'))


def test_registered_optimizer_under_plain_optim_wrapper():
    """``optimizer=dict(type='TBGN')`` in MMEngine's own OptimWrapper: one task, ω = s = 1."""
    model = TwoTaskNet()
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='TBGN', lr=1e-3)))
    assert type(wrapper) is OptimWrapper and type(wrapper.optimizer) is TBGN
    before = model.trunk.weight.detach().clone()
    wrapper.update_params(model.loss('a', torch.randn(3, 4)))
    assert not torch.equal(model.trunk.weight, before)
    assert wrapper.optimizer.last_grad_norm > 0


def test_rejects_non_adamw_and_clipping():
    model = TwoTaskNet()
    with pytest.raises(TypeError, match='AdamW'):
        TBGNOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match='clip_grad'):
        TBGNOptimWrapper(torch.optim.AdamW(model.parameters()), clip_grad=dict(max_norm=1.0))
    with pytest.raises(ValueError, match='amsgrad'):
        TBGNOptimWrapper(torch.optim.AdamW(model.parameters(), amsgrad=True))


def test_amp_fp16_loss_scaling_matches_fp32_and_skips_overflow():
    model, plain = make(task_weights=dict(a=1.0, b=2.0))
    model_amp, amp = make(wrapper_cls=AmpTBGNOptimWrapper, dtype='float16', loss_scale='dynamic',
                          task_weights=dict(a=1.0, b=2.0))
    assert amp.loss_scaler.is_enabled() and amp.loss_scaler.get_scale() == 65536.0
    x = torch.randn(5, 4)
    for task in 'abba':  # the norm is taken after unscaling: same update as fp32
        plain.update_params(model.loss(task, x), task=task)
        amp.update_params(model_amp.loss(task, x), task=task)
    for p, q in zip(model.parameters(), model_amp.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    before = [p.detach().clone() for p in model_amp.parameters()]
    amp.update_params(model_amp.loss('a', x) * float('inf'), task='a')
    assert amp.skipped_steps == 1 and amp.loss_scaler.get_scale() == 32768.0
    assert all(torch.equal(p, b) for p, b in zip(model_amp.parameters(), before))
    with pytest.raises(ValueError, match="needs the batch's task"):
        amp.update_params(model_amp.loss('a', x))
    state = amp.state_dict()
    assert state['loss_scaler']['scale'] == 32768.0
    _, amp2 = make(wrapper_cls=AmpTBGNOptimWrapper, dtype='float16')
    amp2.load_state_dict(state)
    assert amp2.loss_scaler.get_scale() == 32768.0 and amp2.skipped_steps == 1


def test_amp_bf16_autocast_without_scaling():
    model, amp = make(wrapper_cls=AmpTBGNOptimWrapper, dtype='bfloat16')
    assert not amp.loss_scaler.is_enabled()
    before = [p.detach().clone() for p in model.parameters()]
    with amp.optim_context(model):
        h = model.trunk(torch.randn(5, 4))
        assert h.dtype == torch.bfloat16
        loss = model.loss('a', torch.randn(5, 4)).float()
    amp.update_params(loss, task='a')
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(model.trunk.weight, before[0])


CONFIG_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', 'configs'))
CONFIGS = sorted(osp.relpath(c, CONFIG_ROOT)
                 for c in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True))


@pytest.mark.parametrize('path', [c for c in CONFIGS if not c.startswith('_base_')])
def test_every_config_optim_wrapper_builds(path):
    """Each config's ``optim_wrapper`` builds (on a stand-in model); TBGN ones wrap TBGN."""
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, path))
    if 'optim_wrapper' not in cfg:
        pytest.skip('no optim_wrapper')
    wrapper = build_optim_wrapper(TwoTaskNet(), copy.deepcopy(cfg.optim_wrapper))
    if isinstance(wrapper, TBGNOptimWrapper):
        assert type(wrapper.optimizer) is TBGN


def test_optim_wrapper_type_optim_wrapper_is_honoured():
    """``type='OptimWrapper'`` under the TBGN constructor (e.g. inherited from a TBGN base) builds
    MMEngine's plain OptimWrapper over AdamW, as in any OpenMMLab config; TBGN settings beside it
    are an error naming ``optim_wrapper.type``."""
    model = TwoTaskNet()
    base = dict(constructor='TBGNOptimWrapperConstructor', task_weights=None,
                optimizer=dict(type='AdamW', lr=1e-3),
                paramwise_cfg=dict(custom_keys={'head_a': dict(lr_mult=0.1)}))
    wrapper = build_optim_wrapper(model, dict(base, type='OptimWrapper',
                                              clip_grad=dict(max_norm=0.1)))
    assert type(wrapper) is OptimWrapper and type(wrapper.optimizer) is torch.optim.AdamW
    lrs = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    assert lrs[id(model.head_a.weight)] == pytest.approx(1e-4)  # paramwise_cfg still applies
    with pytest.raises(ValueError, match="optim_wrapper.type='OptimWrapper'.*task_weights"):
        build_optim_wrapper(model, dict(base, type='OptimWrapper', task_weights=dict(a=1.0)))
    assert type(build_optim_wrapper(model, dict(base, type='TBGNOptimWrapper'))) \
        is TBGNOptimWrapper


def test_train_py_amp_switch_keeps_the_configured_wrapper_kind():
    """tools/train.py --amp: TBGN -> AmpTBGNOptimWrapper, a plain OptimWrapper -> AmpOptimWrapper."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'upv2_train_entry', osp.join(CONFIG_ROOT, '..', 'tools', 'train.py'))
    train_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_py)
    model = TwoTaskNet()
    for wrapper_type, built in (('TBGNOptimWrapper', AmpTBGNOptimWrapper),
                                (None, AmpTBGNOptimWrapper), ('OptimWrapper', None)):
        cfg = Config(dict(optim_wrapper=dict(
            constructor='TBGNOptimWrapperConstructor', optimizer=dict(type='AdamW', lr=1e-3))))
        if wrapper_type is not None:
            cfg.optim_wrapper.type = wrapper_type
        train_py.set_amp(cfg, 'bf16')
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # mmdet's switch
        if built is not None:
            wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
            assert type(wrapper) is built
        else:  # MMEngine's AmpOptimWrapper itself needs a GPU: the config is what is checked
            assert cfg.optim_wrapper.constructor == 'NoDecayOptimWrapperConstructor'
