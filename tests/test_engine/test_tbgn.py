"""TBGN optimizer wrapper against a direct implementation of paper §4.4."""
import copy
import logging
import math

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.optim.scheduler import LinearLR
from torch import nn

import uniperceiver_v2  # noqa: F401  (registers the wrappers)
from uniperceiver_v2.engine import AmpTBGNOptimWrapper, TBGNOptimWrapper

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


def make(seed=0, wrapper_cls=TBGNOptimWrapper, **kwargs):
    torch.manual_seed(seed)
    model = TwoTaskNet()
    groups = [dict(params=list(model.trunk.parameters())),
              dict(params=list(model.head_a.parameters()) + list(model.head_b.parameters()),
                   lr=3e-3)]
    opt = torch.optim.AdamW(groups, lr=1e-2, betas=(B1, B2), eps=EPS, weight_decay=WD)
    return model, wrapper_cls(opt, **kwargs)


class PaperTBGN:
    """Paper §4.4 written out per parameter in float64, with the paper's β convention."""

    def __init__(self, params) -> None:
        self.params = [p.detach().double().clone() for p in params]
        self.state = {}
        self.beta1, self.beta2 = 1 - B1, 1 - B2  # paper: β weights the new gradient

    def step(self, grads, lrs, omega, s):
        norm = math.sqrt(sum(float((g.double()**2).sum()) for g in grads if g is not None))
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None and i not in self.state:
                continue
            g = torch.zeros_like(p) if g is None else omega * g.double() / norm
            st = self.state.setdefault(i, dict(m=torch.zeros_like(p), n=torch.zeros_like(p), t=0))
            st['t'] += 1
            st['m'] = (1 - self.beta1) * st['m'] + (self.beta1 / s) * g
            st['n'] = (1 - self.beta2) * st['n'] + (self.beta2 / s) * g**2
            m_hat = st['m'] / (1 - (1 - self.beta1)**st['t'])
            n_hat = st['n'] / (1 - (1 - self.beta2)**st['t'])
            lr = lrs[i]
            self.params[i] = p * (1 - lr * WD) - lr * m_hat / (n_hat.sqrt() + EPS)


def params_of(wrapper):
    return [p for g in wrapper.optimizer.param_groups for p in g['params']]


def lrs_of(wrapper):
    return [g['lr'] for g in wrapper.optimizer.param_groups for _ in g['params']]


@pytest.fixture(autouse=True)
def fresh_hub():
    hub = MessageHub.get_instance('test_tbgn_hub')
    hub.runtime_info.clear()
    MessageHub._instance_dict.move_to_end('test_tbgn_hub')  # make it the current instance
    yield hub
    hub.runtime_info.clear()


def run_and_compare(wrapper, model, ref, tasks, omegas, probs, hub, scheduler=None, explicit=()):
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    for i, task in enumerate(tasks):
        loss = model.loss(task, x + 0.1 * i)
        loss.backward()
        grads = [None if p.grad is None else p.grad.clone() for p in params_of(wrapper)]
        ref.step(grads, lrs_of(wrapper), omegas[task], probs[task])
        if i in explicit:
            hub.runtime_info.pop('task', None)
            wrapper.step(task=task)
        else:
            hub.update_info('task', task)
            wrapper.step()
        wrapper.zero_grad()
        if scheduler is not None:
            scheduler.step()
        for p, r in zip(params_of(wrapper), ref.params):
            torch.testing.assert_close(p.detach().double(), r, rtol=1e-5, atol=1e-6)


def test_matches_paper_equations_two_tasks(fresh_hub):
    omegas, weights = dict(a=1.0, b=2.0), dict(a=7.0, b=3.0)
    model, wrapper = make(task_weights=omegas)
    fresh_hub.update_info('task_sampling_probs', dict(a=0.7, b=0.3))  # as the train loop does
    ref = PaperTBGN(params_of(wrapper))
    scheduler = LinearLR(wrapper, start_factor=0.25, by_epoch=False, begin=0, end=4)
    lr0 = lrs_of(wrapper)
    run_and_compare(wrapper, model, ref, list('aabab' 'baab'), omegas,
                    {k: v / 10 for k, v in weights.items()}, fresh_hub, scheduler, explicit={3, 6})
    assert lrs_of(wrapper) != lr0  # the scheduler drove the lr the update used
    assert wrapper.task_steps == dict(a=5, b=4)
    # head_b first got a gradient at the third step (index 2): its step count lags the trunk's
    st = wrapper.optimizer.state
    assert st[model.trunk.weight]['step'] == 9 and st[model.head_b.weight]['step'] == 7


def test_sampling_weights_from_config_override_hub(fresh_hub):
    omegas = dict(a=0.5, b=1.5)
    model, wrapper = make(task_weights=omegas, sampling_weights=dict(a=1, b=3))
    fresh_hub.update_info('task_sampling_probs', dict(a=0.5, b=0.5))
    ref = PaperTBGN(params_of(wrapper))
    run_and_compare(wrapper, model, ref, list('abba'), omegas, dict(a=0.25, b=0.75), fresh_hub)


def test_without_task_info_is_one_task(fresh_hub):
    model, wrapper = make()
    ref = PaperTBGN(params_of(wrapper))
    x = torch.randn(5, 4)
    for _ in range(3):
        model.loss('a', x).backward()
        grads = [None if p.grad is None else p.grad.clone() for p in params_of(wrapper)]
        ref.step(grads, lrs_of(wrapper), 1.0, 1.0)
        wrapper.step()
        wrapper.zero_grad()
    for p, r in zip(params_of(wrapper), ref.params):
        torch.testing.assert_close(p.detach().double(), r, rtol=1e-5, atol=1e-6)


def test_unknown_task_names_the_config_key(fresh_hub):
    model, wrapper = make(task_weights=dict(a=1.0))
    model.loss('b', torch.randn(2, 4)).backward()
    fresh_hub.update_info('task', 'b')
    with pytest.raises(KeyError, match='optim_wrapper.task_weights'):
        wrapper.step()
    fresh_hub.update_info('task_sampling_probs', dict(a=1.0))
    _, wrapper = make()
    with pytest.raises(KeyError, match='train_cfg.tasks'):
        wrapper.step()


def test_nan_gradient_skips_step(fresh_hub, caplog):
    model, wrapper = make()
    x = torch.randn(5, 4)
    for task in 'ab':
        fresh_hub.update_info('task', task)
        wrapper.update_params(model.loss(task, x))
    before_p = [p.detach().clone() for p in params_of(wrapper)]
    before_s = copy.deepcopy(wrapper.optimizer.state_dict())
    model.loss('a', x).backward()
    model.trunk.weight.grad[0, 0] = float('nan')
    with caplog.at_level(logging.WARNING):
        wrapper.step()
    assert wrapper.skipped_steps == 1
    for p, b in zip(params_of(wrapper), before_p):
        assert torch.equal(p.detach(), b)
    after_s = wrapper.optimizer.state_dict()['state']
    for k, st in before_s['state'].items():
        assert st['step'] == after_s[k]['step']
        assert torch.equal(st['exp_avg'], after_s[k]['exp_avg'])
        assert torch.equal(st['exp_avg_sq'], after_s[k]['exp_avg_sq'])
    assert wrapper.task_steps == dict(a=1, b=1)


def test_huge_finite_gradients_are_normalised_not_skipped(fresh_hub):
    """|g| ~ 1e20 overflows a float32 sum of squares; the step must still apply, and normalising
    makes it the same step as for the same gradient direction at a sane scale."""
    x = torch.randn(5, 4)
    results = []
    for scale in (1.0, 1e20):
        torch.manual_seed(0)
        model, wrapper = make()
        fresh_hub.update_info('task', 'a')
        model.loss('a', x).backward()
        grads = [p.grad for p in params_of(wrapper) if p.grad is not None]
        for g in grads:
            g.mul_(scale)
        assert all(torch.isfinite(g).all() for g in grads)
        wrapper.step()
        assert wrapper.skipped_steps == 0
        results.append([p.detach().clone() for p in params_of(wrapper)])
    for a, b in zip(*results):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_state_dict_resume_continues_identically(fresh_hub):
    fresh_hub.update_info('task_sampling_probs', dict(a=0.6, b=0.4))
    model, wrapper = make(task_weights=dict(a=1.0, b=2.0))
    x = torch.randn(5, 4)
    for task in 'abab':
        fresh_hub.update_info('task', task)
        wrapper.update_params(model.loss(task, x))
    saved_state = copy.deepcopy(wrapper.state_dict())
    saved_model = copy.deepcopy(model.state_dict())
    assert saved_state['tbgn']['task_steps'] == dict(a=2, b=2)

    model2, wrapper2 = make(seed=123, task_weights=dict(a=1.0, b=2.0))
    model2.load_state_dict(saved_model)
    wrapper2.load_state_dict(saved_state)
    assert wrapper2.task_steps == dict(a=2, b=2)
    for task in 'bba':
        fresh_hub.update_info('task', task)
        wrapper.update_params(model.loss(task, x))
        wrapper2.update_params(model2.loss(task, x))
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)


def test_constructor_survives_amp_switch_and_keeps_paramwise_lr(fresh_hub):
    model = TwoTaskNet()
    cfg = dict(type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-3, betas=(B1, B2), weight_decay=WD),
               paramwise_cfg=dict(custom_keys={'head_a': dict(lr_mult=0.1)}),
               task_weights=dict(a=1.0, b=1.0))
    assert type(build_optim_wrapper(model, cfg)) is TBGNOptimWrapper
    cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')  # what mmdet's --amp does
    wrapper = build_optim_wrapper(model, cfg)
    assert type(wrapper) is AmpTBGNOptimWrapper
    assert wrapper.task_weights == dict(a=1.0, b=1.0)
    lrs = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    assert lrs[id(model.head_a.weight)] == pytest.approx(1e-4)
    assert lrs[id(model.trunk.weight)] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match='optim_wrapper.type'):
        build_optim_wrapper(model, dict(cfg, type='ZeroRedundancyOptimizer'))


def test_rejects_non_adamw_and_clipping():
    model = TwoTaskNet()
    with pytest.raises(TypeError, match='AdamW'):
        TBGNOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match='clip_grad'):
        TBGNOptimWrapper(torch.optim.AdamW(model.parameters()), clip_grad=dict(max_norm=1.0))


def test_amp_fp16_loss_scaling_matches_fp32_and_skips_overflow(fresh_hub):
    model, plain = make(task_weights=dict(a=1.0, b=2.0))
    model_amp, amp = make(wrapper_cls=AmpTBGNOptimWrapper, dtype='float16', loss_scale='dynamic',
                          task_weights=dict(a=1.0, b=2.0))
    assert amp.loss_scaler.is_enabled() and amp.loss_scaler.get_scale() == 65536.0
    x = torch.randn(5, 4)
    for task in 'abba':  # the norm is taken after unscaling: same update as fp32
        fresh_hub.update_info('task', task)
        plain.update_params(model.loss(task, x))
        amp.update_params(model_amp.loss(task, x))
    for p, q in zip(model.parameters(), model_amp.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    before = [p.detach().clone() for p in model_amp.parameters()]
    amp.update_params(model_amp.loss('a', x) * float('inf'))
    assert amp.skipped_steps == 1 and amp.loss_scaler.get_scale() == 32768.0
    assert all(torch.equal(p, b) for p, b in zip(model_amp.parameters(), before))
    state = amp.state_dict()
    assert state['loss_scaler']['scale'] == 32768.0
    _, amp2 = make(wrapper_cls=AmpTBGNOptimWrapper, dtype='float16')
    amp2.load_state_dict(state)
    assert amp2.loss_scaler.get_scale() == 32768.0 and amp2.skipped_steps == 1


def test_amp_bf16_autocast_without_scaling(fresh_hub):
    model, amp = make(wrapper_cls=AmpTBGNOptimWrapper, dtype='bfloat16')
    assert not amp.loss_scaler.is_enabled()
    before = [p.detach().clone() for p in model.parameters()]
    fresh_hub.update_info('task', 'a')
    with amp.optim_context(model):
        h = model.trunk(torch.randn(5, 4))
        assert h.dtype == torch.bfloat16
        loss = model.loss('a', torch.randn(5, 4)).float()
    amp.update_params(loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(model.trunk.weight, before[0])
