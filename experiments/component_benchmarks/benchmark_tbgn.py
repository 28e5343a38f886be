"""Step time of TBGN vs MMEngine's OptimWrapper + torch AdamW, measured in the same run.

Identical copies of one transformer-like model (pre-norm residual MLP blocks over ``--tokens``
tokens per sample) train on the same batches in one process, in interleaved repeats; the script
prints median times and ratios against references measured in the same run:

* whole training step (``update_params``: forward + backward + optimizer):
  ``TBGNOptimWrapper`` vs ``OptimWrapper`` + ``torch.optim.AdamW`` with its default
  implementation (for-loop on CPU, foreach on CUDA), ``foreach=True`` and ``fused=True``;
  targets <= 1.05x default/foreach and <= 1.10x fused;
* optimizer step alone (``step`` on fixed gradients): the ``TBGN`` optimizer vs the same three
  AdamW variants.

TBGN trains two tasks with s = 0.5 each (so the 1/s_k compensation is exercised).  A training
step costs about 6 · parameters · tokens FLOPs; ``--tokens 1`` gives the optimizer-dominated worst
case of a tiny-batch MLP.

Usage::

    python experiments/component_benchmarks/benchmark_tbgn.py [--params 2e6] [--width 256] [--batch 16] \\
        [--tokens 32] [--repeats 5] [--iters 10] [--device cpu] [--threads 1] [--clock cpu]
"""
import argparse
import copy
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from torch import nn

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.engine import TBGN, TBGNOptimWrapper

HYPER = dict(lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
ADAMW_VARIANTS = {'AdamW default': {}, 'AdamW foreach': dict(foreach=True),
                  'AdamW fused': dict(fused=True)}


class Block(nn.Module):
    """Pre-norm residual MLP block of a transformer (width -> 4 width -> width)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))


class TokenModel(nn.Module):
    """Residual MLP blocks over tokens, mean-pooled, then a classifier.

    Args:
        n_params (float): about this many parameters.
        width (int): token width.
        classes (int): classifier outputs.
    """

    def __init__(self, n_params: float, width: int, classes: int = 10) -> None:
        super().__init__()
        per_block = 8 * width * width + 7 * width
        blocks = max(1, int(round(n_params / per_block)))
        self.blocks = nn.Sequential(*[Block(width) for _ in range(blocks)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(x)).mean(1))


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def median_times(steps: Dict[str, Callable[[], None]], repeats: int, iters: int, device: str,
                 clock: Callable[[], float]) -> Dict[str, float]:
    """Median seconds per call of each step, over interleaved repeats of ``iters`` calls."""
    times: Dict[str, List[float]] = {name: [] for name in steps}
    for step in steps.values():  # warm-up
        for _ in range(2):
            step()
    order = list(steps)
    for r in range(repeats):
        # interleaved, in an order rotated every repeat: all see the same machine load and none
        # always runs right after another
        for name in order[r % len(order):] + order[:r % len(order)]:
            step = steps[name]
            sync(device)
            t0 = clock()
            for _ in range(iters):
                step()
            sync(device)
            times[name].append((clock() - t0) / iters)
    return {name: statistics.median(t) for name, t in times.items()}


def report(what: str, times: Dict[str, float], tbgn: str) -> None:
    ratios = ' | '.join(f'{tbgn}/{name} {times[tbgn] / t:.3f}' for name, t in times.items()
                        if name != tbgn)
    print(f'{what}: ' + ' | '.join(f'{n} {t * 1e3:.2f} ms' for n, t in times.items()))
    print(f'{" " * len(what)}  ratios: {ratios}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in dict(params=2e6, width=256, batch=16, tokens=32, repeats=5,
                              iters=10).items():
        parser.add_argument(f'--{name}', type=type(default), default=default)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='wall: perf_counter; cpu: process CPU time (steadier on a shared '
                        'machine, CPU device only)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    # denormal arithmetic is ~100x slower on x86 CPUs and appears once the toy model overfits;
    # flush it to zero so that the timings measure the optimizers, not denormal stalls
    ftz = torch.set_flush_denormal(True)
    torch.manual_seed(0)
    base = TokenModel(args.params, args.width).to(args.device)
    n = sum(p.numel() for p in base.parameters())
    names = list(ADAMW_VARIANTS) + ['TBGN']
    models = {name: copy.deepcopy(base) for name in names}
    batch = (torch.randn(args.batch, args.tokens, args.width, device=args.device),
             torch.randint(0, 10, (args.batch, ), device=args.device))

    def loss_of(model: nn.Module) -> torch.Tensor:
        return F.cross_entropy(model(batch[0]), batch[1])

    # whole training step: MMEngine wrappers
    wrappers = {name: OptimWrapper(torch.optim.AdamW(models[name].parameters(), **HYPER, **kw))
                for name, kw in ADAMW_VARIANTS.items()}
    wrappers['TBGN'] = TBGNOptimWrapper(torch.optim.AdamW(models['TBGN'].parameters(), **HYPER),
                                        task_weights=dict(a=1.0, b=1.0))
    wrappers['TBGN'].set_task_sampling(dict(a=0.5, b=0.5), 'unmixed')
    full_steps = {name: (lambda name=name: wrappers[name].update_params(loss_of(models[name])))
                  for name in ADAMW_VARIANTS}
    full_steps['TBGN'] = lambda: wrappers['TBGN'].update_params(loss_of(models['TBGN']), task='a')
    full = median_times(full_steps, args.repeats, args.iters, args.device, clock)

    # optimizer step alone, on fixed gradients: plain torch optimizers
    optimizers = {name: torch.optim.AdamW(models[name].parameters(), **HYPER, **kw)
                  for name, kw in ADAMW_VARIANTS.items()}
    optimizers['TBGN'] = TBGN(models['TBGN'].parameters(), **HYPER,
                              sampling_probs=dict(a=0.5, b=0.5))
    for name in names:
        models[name].zero_grad()
        loss_of(models[name]).backward()
    opt_steps = {name: (lambda name=name: optimizers[name].step()) for name in ADAMW_VARIANTS}
    opt_steps['TBGN'] = lambda: optimizers['TBGN'].step(task='a')
    alone = median_times(opt_steps, args.repeats, args.iters, args.device, clock)

    print(f'model: {n / 1e6:.2f}M parameters, batch {args.batch} x {args.tokens} tokens '
          f'(~{6 * n * args.batch * args.tokens / 1e9:.1f} GFLOP per step), device '
          f'{args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'{args.repeats} repeats x {args.iters} iterations, {args.clock} clock, medians, '
          f'flush-denormal {ftz}')
    report('training step (OptimWrapper / TBGNOptimWrapper)', full, 'TBGN')
    report('optimizer step alone', alone, 'TBGN')


if __name__ == '__main__':
    main()
