"""Cost of several processes and of resuming, on the real embedded default through tools/train.py.

Two figures, each a ratio against a reference measured in the same run:

1. **DDP on 2 CPU ranks vs 1 rank**: median seconds per iteration of the embedded default
   (``MultiTaskDistributedDataParallel`` with ``find_unused_parameters=True``, gathered retrieval
   negatives, TBGN) on 2 gloo processes vs the same per-rank batch in 1 process, one thread per
   process.  The 2-rank run does the same work per rank, so the ratio minus 1 is the DDP overhead
   (gradient all-reduce, the unused-parameter search, the feature gather).
2. **Resuming at iteration N** (default 100,000): a checkpoint of a short run is re-labelled as
   iteration N, with the data positions the task sequence gives at N; the script times the whole
   resumed command (start-up, checkpoint load, sampler positioning, RNG restore, 2 iterations)
   against the same command starting fresh, and estimates what replaying the N consumed batches
   through the data pipelines (what MMEngine's loops do) would take.

Usage::

    python experiments/component_benchmarks/benchmark_distributed.py [--data-root data/synthetic] [--iters 30] \\
        [--resume-at 100000]
"""
import argparse
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import tempfile
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
from uniperceiver_v2.testing import write_small_run_config

EMBEDDED = osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic',
                        help='the embedded synthetic data; generated (300 images) if missing')
    parser.add_argument('--iters', type=int, default=30, help='iterations of the timing runs')
    parser.add_argument('--resume-at', type=int, default=100_000, help='iteration to resume at')
    parser.add_argument('--batch-size', type=int, default=16,
                        help='per task and rank (detection half); the embedded default uses 16')
    parser.add_argument('--parts', nargs='+', choices=['ddp', 'resume'], default=['ddp', 'resume'])
    parser.add_argument('--work-dir', default=None, help='default: a temporary folder')
    return parser.parse_args()


def env(port: bool = False) -> dict:
    out = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    if port:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            out['PORT'] = str(s.getsockname()[1])
    return out


def run(cwd: str, config: str, work_dir: str, *args: str, ranks: int = 1) -> float:
    """Run training; returns its wall-clock seconds."""
    if ranks > 1:
        cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, str(ranks)]
    else:
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config]
    cmd += ['--work-dir', work_dir, *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env(port=ranks > 1), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed:\n{proc.stderr[-4000:]}')
    return time.perf_counter() - t0


def seconds_per_iter(records_dir: str, skip: int = 5) -> float:
    """Mean seconds per iteration of rank 0 after ``skip`` warm-up iterations.

    A mean over the same iterations, not a median: both runs train the same task sequence
    (unmixed sampling, same seed) and the tasks cost different amounts.
    """
    with open(osp.join(records_dir, 'rank0.jsonl')) as f:
        times = [json.loads(line)['time'] for line in f]
    return (times[-1] - times[skip]) / (len(times) - 1 - skip)


def prepare_data(data_root: str, scratch: str) -> str:
    """An absolute data folder for the runs: ``data_root`` if it exists, else a small new copy."""
    if osp.isdir(data_root):
        return osp.abspath(data_root)
    out = osp.join(scratch, 'synthetic')
    print(f'{data_root} not found: generating 300 synthetic scenes in {out}')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'data', 'generate_synthetic.py'),
                    '--out-dir', out, '--num-train', '300', '--num-val', '20', '--num-test', '20',
                    '--no-progress'], check=True, env=env())
    return out


def forge_checkpoint(src: str, dst: str, config: str, iteration: int) -> dict:
    """``src`` re-labelled as iteration ``iteration`` with the matching per-task data positions."""
    from mmengine.config import Config
    from uniperceiver_v2.utils import checkpoint_safe_globals
    from uniperceiver_v2.engine import build_task_sampler
    cfg = Config.fromfile(config)
    with checkpoint_safe_globals():  # an MMEngine checkpoint under torch's safe loader
        ckpt = torch.load(src, map_location='cpu', weights_only=True)
    sampler = build_task_sampler(cfg.train_cfg.tasks, seed=cfg.randomness.seed,
                                 sampling=cfg.train_cfg.sampling)
    counts = sampler.counts(iteration)
    state = ckpt['multi_task_train_loop']
    state['positions'] = [{t: n * cfg.train_dataloader[t].batch_size for t, n in counts.items()}]
    ckpt['meta']['iter'] = iteration
    torch.save(ckpt, dst)
    return counts


def replay_estimate(config: str, data_cwd: str, counts: dict, batches: int = 10) -> float:
    """Seconds to draw ``counts`` batches per task through the data pipelines (extrapolated)."""
    import uniperceiver_v2  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    old = os.getcwd()
    os.chdir(data_cwd)
    try:
        total = 0.0
        for task, n in counts.items():
            loader = Runner.build_dataloader(dict(cfg.train_dataloader[task]), seed=0)
            it = iter(loader)
            next(it)
            t0 = time.perf_counter()
            for _ in range(batches):
                next(it)
            total += (time.perf_counter() - t0) / batches * n
    finally:
        os.chdir(old)
    return total


def main() -> None:
    args = parse_args()
    scratch = args.work_dir or tempfile.mkdtemp(prefix='upv2_bench_dist_')
    data = prepare_data(args.data_root, scratch)
    cwd = osp.join(scratch, 'cwd')
    os.makedirs(osp.join(cwd, 'data'), exist_ok=True)
    link = osp.join(cwd, 'data', 'synthetic')
    if not osp.exists(link):
        os.symlink(data, link)

    def config(name, iters, interval):
        return write_small_run_config(osp.join(scratch, f'{name}.py'), EMBEDDED,
                                      osp.join(scratch, f'records_{name}'), iters, interval,
                                      batch_size=args.batch_size)

    if 'ddp' in args.parts:
        ddp_overhead(args, scratch, cwd, config)
    if 'resume' in args.parts:
        resume_cost(args, scratch, cwd, config)


def ddp_overhead(args, scratch, cwd, config) -> None:
    """Seconds per iteration on 2 ranks vs 1 rank, same per-rank batch."""
    one = config('one_rank', args.iters, 10**6)
    two = config('two_ranks', args.iters, 10**6)
    run(cwd, one, osp.join(scratch, 'w_one'))
    run(cwd, two, osp.join(scratch, 'w_two'), ranks=2)
    t1 = seconds_per_iter(osp.join(scratch, 'records_one_rank'))
    t2 = seconds_per_iter(osp.join(scratch, 'records_two_ranks'))
    print(f'DDP, embedded default, per-rank batch {args.batch_size} (det {args.batch_size // 2}), '
          f'1 thread per process: 1 rank {t1:.3f} s/iter, 2 ranks {t2:.3f} s/iter, '
          f'ratio {t2 / t1:.2f}')


def resume_cost(args, scratch, cwd, config) -> None:
    """Whole resumed command at iteration N vs a fresh start; replay estimate."""
    short = config('short', 2, 2)
    fresh = run(cwd, short, osp.join(scratch, 'w_short'))
    n = args.resume_at
    forged = osp.join(scratch, f'iter_{n}.pth')
    counts = forge_checkpoint(osp.join(scratch, 'w_short', 'iter_2.pth'), forged, EMBEDDED, n)
    resumed_cfg = config('resumed', n + 2, 10**9)
    resumed = run(cwd, resumed_cfg, osp.join(scratch, 'w_resumed'), '--resume', forged)
    with open(osp.join(scratch, 'records_resumed', 'rank0.jsonl')) as f:
        iters = [json.loads(line)['iter'] for line in f]
    assert iters == [n, n + 1], iters
    replay = replay_estimate(short, cwd, counts)
    print(f'resume at iteration {n} ({counts} batches consumed): whole command {resumed:.1f} s vs '
          f'{fresh:.1f} s starting fresh (ratio {resumed / fresh:.2f}); replaying the consumed '
          f'batches through the data pipelines instead: ~{replay / 60:.1f} min')


if __name__ == '__main__':
    main()
