"""The plain-PyTorch TBGN optimizer against the float64 reference of paper §4, AdamW state
compatibility, extreme / non-finite gradients, optimizer hooks and the norm over 2 gloo ranks.

The optimizer is loaded from its file alone (torch only): what a user without MMEngine gets."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from tbgn_reference import PaperTBGN
from tbgn_standalone import load_tbgn_optimizer

tbgn_optimizer = load_tbgn_optimizer()
TBGN, global_grad_norm = tbgn_optimizer.TBGN, tbgn_optimizer.global_grad_norm

B1, B2, EPS = 0.9, 0.95, 1e-8
LR_TRUNK, LR_HEADS, WD_TRUNK, WD_HEADS = 1e-2, 3e-3, 0.05, 0.2


class ThreeTaskNet(nn.Module):
    """A shared trunk and one head per task: each task leaves the other heads without gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(4, 6)
        self.heads = nn.ModuleDict(dict(a=nn.Linear(6, 3), b=nn.Linear(6, 2), c=nn.Linear(6, 2)))

    def loss(self, task: str, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.trunk(x.to(self.trunk.weight.dtype)))
        out = self.heads[task](h).float()
        return (out**2).mean() * (100.0 if task == 'b' else 1.0)  # loss scale must not matter


def make(seed: int = 0, dtype: torch.dtype = torch.float32, **kwargs):
    """Model and TBGN with two param groups of different lr and weight decay."""
    torch.manual_seed(seed)
    model = ThreeTaskNet().to(dtype)
    groups = [dict(params=list(model.trunk.parameters())),
              dict(params=list(model.heads.parameters()), lr=LR_HEADS, weight_decay=WD_HEADS)]
    return model, TBGN(groups, lr=LR_TRUNK, betas=(B1, B2), eps=EPS, weight_decay=WD_TRUNK,
                       **kwargs)


def params_of(opt):
    return [p for g in opt.param_groups for p in g['params']]


def per_param(opt, key):
    return [g[key] for g in opt.param_groups for _ in g['params']]


@pytest.mark.parametrize('foreach', [True, False])
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_matches_paper_equations(dtype, foreach):
    """Two groups (lr, wd differ), head b joins at step 3, head c's task is never drawn."""
    omegas, probs = dict(a=1.0, b=2.0, c=1.0), dict(a=0.6, b=0.3, c=0.1)
    model, opt = make(dtype=dtype, task_weights=omegas, sampling_probs=probs, foreach=foreach)
    ref = PaperTBGN(params_of(opt), betas=(B1, B2), eps=EPS)
    head_c = [p.detach().clone() for p in model.heads['c'].parameters()]
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    for i, task in enumerate('aabab' 'baab'):
        model.loss(task, x + 0.1 * i).backward()
        grads = [None if p.grad is None else p.grad.clone() for p in params_of(opt)]
        # bf16: restart the reference from the bf16 weights, so it checks each step's update
        norm = ref.step(grads, per_param(opt, 'lr'), per_param(opt, 'weight_decay'), omegas[task],
                        probs[task], params=params_of(opt) if dtype == torch.bfloat16 else None)
        opt.step(task=task)
        assert opt.last_grad_norm == pytest.approx(norm, rel=1e-6)  # fp32 norm even for bf16
        assert all(g is None or torch.equal(p.grad, g) for p, g in zip(params_of(opt), grads))
        opt.zero_grad()
        # bf16: within one ulp (the weight decay and the update each round to bf16)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else \
            dict(rtol=2**-7, atol=2e-4)
        for p, r in zip(params_of(opt), ref.params):
            torch.testing.assert_close(p.detach().double(), r, **tol)
    assert opt.task_steps == dict(a=5, b=4)
    assert opt.state[model.trunk.weight]['step'] == 9
    assert opt.state[model.heads['b'].weight]['step'] == 7  # joined at the third step
    assert all(len(opt.state[p]) == 0 for p in model.heads['c'].parameters())
    assert all(torch.equal(p, q) for p, q in zip(model.heads['c'].parameters(), head_c))
    assert opt.state[model.trunk.weight]['exp_avg'].dtype == dtype  # AdamW keeps param dtype


def test_explicit_factors_and_task_errors():
    model, opt = make()
    model.loss('a', torch.randn(3, 4)).backward()
    with pytest.raises(ValueError, match='needs the task'):
        make(task_weights=dict(a=1.0))[1].step()
    with pytest.raises(KeyError, match="sampling_probs has no entry for task 'z'"):
        make(sampling_probs=dict(a=1.0))[1].step(task='z')
    with pytest.raises(ValueError, match='sampling probability'):
        opt.step(task='a', s=0.0)
    assert opt.task_factors('a', omega=2.0, s=0.25) == (2.0, 0.25)
    assert make(sampling_probs=dict(a=1, b=3))[1].task_factors('b') == (1.0, 0.75)
    assert opt.task_factors() == (1.0, 1.0)  # no tables: AdamW on the unit-norm gradient


def unit_grads(model, task, x):
    model.zero_grad()
    model.loss(task, x).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g.div_(norm)


@pytest.mark.parametrize('first', ['tbgn', 'adamw'])
def test_state_dict_round_trips_through_adamw(first):
    """With ω = s = 1 and a unit-norm gradient TBGN is AdamW: whichever trained first, the other
    resumes from its state dict (true moments, AdamW's keys) and continues identically.  (One
    task only: AdamW skips parameters without gradient, TBGN decays their moments.)"""
    x = torch.randn(5, 4)
    model, opt = make()
    adamw_model = copy.deepcopy(model)
    adamw = torch.optim.AdamW([dict(params=list(adamw_model.trunk.parameters())),
                               dict(params=list(adamw_model.heads.parameters()), lr=LR_HEADS,
                                    weight_decay=WD_HEADS)],
                              lr=LR_TRUNK, betas=(B1, B2), eps=EPS, weight_decay=WD_TRUNK,
                              foreach=False)
    src, src_model, dst, dst_model = ((opt, model, adamw, adamw_model) if first == 'tbgn'
                                      else (adamw, adamw_model, opt, model))
    for _ in range(3):
        unit_grads(src_model, 'a', x)
        src.step()
    dst_model.load_state_dict(src_model.state_dict())
    dst.load_state_dict(copy.deepcopy(src.state_dict()))
    if first == 'tbgn':
        assert 'tbgn' in opt.state_dict() and set(opt.state_dict()['tbgn']) == {
            'task_steps', 'skipped_steps'}
    for p, q in zip(model.parameters(), adamw_model.parameters()):
        assert set(opt.state.get(p, {})) == set(adamw.state.get(q, {}))  # head c: no state
        for key in opt.state.get(p, {}):
            torch.testing.assert_close(opt.state[p][key], adamw.state[q][key], rtol=0, atol=0)
    for i in range(3):
        for m, o in ((model, opt), (adamw_model, adamw)):
            unit_grads(m, 'a', x + i)
            o.step()
        for p, q in zip(model.parameters(), adamw_model.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('scale', [1e-30, 1e30])
def test_extreme_gradient_norms_are_normalised(scale):
    """Norms of 1e-30 and 1e30 (float32 squares under/overflow) give the same step as 1."""
    x = torch.randn(5, 4)
    results, norms = [], []
    for factor in (1.0, scale):
        model, opt = make(sampling_probs=dict(a=0.5, b=0.5))
        for task in 'ab':
            model.loss(task, x).backward()
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.mul_(factor)
            opt.step(task=task)
            norms.append(opt.last_grad_norm / factor)
            opt.zero_grad()
        assert opt.skipped_steps == 0
        assert all(torch.isfinite(v).all() for st in opt.state.values()
                   for k, v in st.items() if k != 'step')
        results.append([p.detach().clone() for p in model.parameters()])
    assert norms[2:] == pytest.approx(norms[:2], rel=1e-6)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_gradient_skips_the_step(bad, caplog):
    model, opt = make(sampling_probs=dict(a=0.5, b=0.5))
    x = torch.randn(5, 4)
    for task in 'ab':
        model.loss(task, x).backward()
        opt.step(task=task)
        opt.zero_grad()
    params = [p.detach().clone() for p in model.parameters()]
    state = copy.deepcopy(opt.state_dict())
    model.loss('a', x).backward()
    model.trunk.weight.grad[0, 0] = bad
    opt.step(task='a')
    assert opt.skipped_steps == 1 and 'step skipped' in caplog.text
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params))
    after = opt.state_dict()
    assert after['tbgn']['task_steps'] == dict(a=1, b=1) == state['tbgn']['task_steps']
    for key, st in state['state'].items():
        for name in ('step', 'exp_avg', 'exp_avg_sq'):
            assert torch.equal(st[name], after['state'][key][name])
    opt.zero_grad()
    model.loss('a', x).backward()
    opt.step(task='a')  # and training goes on
    assert opt.task_steps == dict(a=2, b=1)


def test_step_runs_optimizer_hooks():
    model, opt = make(sampling_probs=dict(a=1.0))
    seen = []
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(('pre', kwargs.get('task'))))
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(('post', kwargs.get('task'))))
    model.loss('a', torch.randn(2, 4)).backward()
    opt.step(task='a')
    assert seen == [('pre', 'a'), ('post', 'a')]


def test_bf16_gradient_norm_is_float32():
    g = [torch.randn(4096, dtype=torch.bfloat16), torch.randn(7, 3, dtype=torch.bfloat16)]
    exact = math.sqrt(sum(float(x.double().square().sum()) for x in g))
    assert global_grad_norm(g) == pytest.approx(exact, rel=1e-6)


# ----------------------------------------------------------------------------- 2 ranks (gloo)
def _train_sharded(rank: int, world: int, dtensor: bool) -> dict:
    """Train on 2 ranks with the gradients sharded between them; return norms and full params.

    ``dtensor=False``: each rank holds every other parameter and its gradient (ZeRO-style),
    TBGN gets ``process_group``.  ``dtensor=True``: FSDP2-style DTensor parameters and gradients
    (Shard(0), or Replicate for odd first dimensions), no process group.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    model, _ = make()
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    params = list(model.parameters())
    if dtensor:
        mesh = init_device_mesh('cpu', (world, ))
        placements = [[Shard(0)] if p.shape[0] % world == 0 else [Replicate()] for p in params]
        mine = [nn.Parameter(distribute_tensor(p.detach().clone(), mesh, pl))
                for p, pl in zip(params, placements)]
        opt = TBGN(mine, lr=LR_TRUNK, betas=(B1, B2), eps=EPS, weight_decay=WD_TRUNK)
    else:
        mine = params[rank::world]
        opt = TBGN(mine, lr=LR_TRUNK, betas=(B1, B2), eps=EPS, weight_decay=WD_TRUNK,
                   process_group=dist.group.WORLD)
    norms = []
    for task in 'abab':
        model.loss(task, x).backward()
        if dtensor:
            for p, d, pl in zip(params, mine, placements):
                d.grad = None if p.grad is None else distribute_tensor(p.grad, mesh, pl)
        else:
            for p in params:
                if all(p is not q for q in mine):
                    p.grad = None  # the shards of the other rank
        opt.step(task=task)
        norms.append(opt.last_grad_norm)
        model.zero_grad()
        with torch.no_grad():  # every rank gets the updated shards of the others
            for i, p in enumerate(params):
                if dtensor:
                    p.copy_(mine[i].full_tensor())
                else:
                    dist.broadcast(p, src=i % world)
    return dict(norms=norms, params=[p.detach().clone() for p in params])


def _sharded_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world)
    try:
        out = {mode: _train_sharded(rank, world, mode == 'dtensor')
               for mode in ('process_group', 'dtensor')}
        torch.save(out, osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


@pytest.mark.integration
def test_norm_over_two_gloo_ranks_matches_single_process(tmp_path):
    mp.spawn(_sharded_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2,
             join=True)
    model, opt = make()
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    opt = TBGN(model.parameters(), lr=LR_TRUNK, betas=(B1, B2), eps=EPS, weight_decay=WD_TRUNK)
    norms = []
    for task in 'abab':
        model.loss(task, x).backward()
        opt.step(task=task)
        norms.append(opt.last_grad_norm)
        model.zero_grad()
    for rank in range(2):
        for mode, out in torch.load(tmp_path / f'rank{rank}.pth').items():
            assert out['norms'] == pytest.approx(norms, rel=1e-6), mode
            for p, q in zip(out['params'], model.parameters()):
                torch.testing.assert_close(p, q.detach(), rtol=1e-6, atol=1e-7, msg=mode)
