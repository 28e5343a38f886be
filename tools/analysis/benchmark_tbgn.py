"""Step time of the TBGN optimizer wrapper vs MMEngine's OptimWrapper + torch AdamW.

Both wrappers train identical copies of the same model on the same batches in one process, in
interleaved repeats; the script prints the median times and their ratios (target <= 1.05 for a
full training step).  References: torch AdamW with its default implementation (for-loop on CPU,
foreach on CUDA) and with ``fused=True`` (the kernel TBGN itself runs).  Two figures: the whole
``update_params`` step (forward + backward + optimizer) and the optimizer step alone
(``wrapper.step()`` on fixed gradients).

Usage::

    python tools/analysis/benchmark_tbgn.py [--params 4e6] [--repeats 7] [--iters 20] \\
        [--device cpu] [--threads 1] [--clock cpu]
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
import torch.nn.functional as F
from torch import nn

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.engine import TBGNOptimWrapper


class Block(nn.Module):
    """Pre-norm residual MLP block of a transformer (width -> 4 width -> width)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))


def make_model(n_params: float, width: int = 512, classes: int = 10) -> nn.Module:
    """Residual MLP blocks + a classifier, about ``n_params`` parameters."""
    per_block = 8 * width * width + 7 * width
    blocks = max(1, int(round(n_params / per_block)))
    return nn.Sequential(*[Block(width) for _ in range(blocks)], nn.LayerNorm(width),
                         nn.Linear(width, classes))


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def time_steps(wrapper, model, batches, device, full: bool, clock=time.perf_counter) -> float:
    sync(device)
    t0 = clock()
    for x, y in batches:
        if full:
            wrapper.update_params(F.cross_entropy(model(x), y))
        else:
            wrapper.step()
    sync(device)
    return (clock() - t0) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--params', type=float, default=4e6)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--iters', type=int, default=20)
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
    base = make_model(args.params).to(args.device)
    n = sum(p.numel() for p in base.parameters())
    models = dict(adamw=base, adamw_fused=copy.deepcopy(base), tbgn=copy.deepcopy(base))
    hyper = dict(lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    wrappers = dict(
        adamw=OptimWrapper(torch.optim.AdamW(models['adamw'].parameters(), **hyper)),
        adamw_fused=OptimWrapper(
            torch.optim.AdamW(models['adamw_fused'].parameters(), fused=True, **hyper)),
        tbgn=TBGNOptimWrapper(torch.optim.AdamW(models['tbgn'].parameters(), **hyper),
                              task_weights=dict(a=1.0), sampling_weights=dict(a=1.0)))
    MessageHub.get_current_instance().update_info('task', 'a')
    batches = [(torch.randn(args.batch, 512, device=args.device),
                torch.randint(0, 10, (args.batch, ), device=args.device))
               for _ in range(args.iters)]

    results = {}
    for full in (True, False):
        if not full:  # fixed gradients for the optimizer-only timing
            for name, model in models.items():
                F.cross_entropy(model(batches[0][0]), batches[0][1]).backward()
        times = {name: [] for name in wrappers}
        for name in wrappers:  # warm-up
            time_steps(wrappers[name], models[name], batches[:3], args.device, full, clock)
        for _ in range(args.repeats):
            for name in wrappers:  # interleaved: both see the same machine load
                times[name].append(time_steps(wrappers[name], models[name], batches,
                                              args.device, full, clock))
        results['update_params' if full else 'optimizer step'] = {
            k: statistics.median(v) for k, v in times.items()}

    print(f'model: {n / 1e6:.2f}M parameters, batch {args.batch}, device {args.device}, '
          f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'{args.repeats} repeats x {args.iters} iterations, {args.clock} clock, medians, '
          f'flush-denormal {ftz}')
    for what, t in results.items():
        print(f'{what:>15}: OptimWrapper+AdamW (default) {t["adamw"] * 1e3:8.2f} ms | '
              f'OptimWrapper+AdamW(fused=True) {t["adamw_fused"] * 1e3:8.2f} ms | '
              f'TBGNOptimWrapper {t["tbgn"] * 1e3:8.2f} ms | '
              f'ratio TBGN/default {t["tbgn"] / t["adamw"]:.3f} | '
              f'ratio TBGN/fused {t["tbgn"] / t["adamw_fused"]:.3f}')


if __name__ == '__main__':
    main()
