"""Inference throughput and training iteration time of every task of a Uni-Perceiver v2 config.

For each task of ``model.tasks`` (or ``--tasks``):

* inference: ``model.test_step`` on batches of the task's ``val_dataloader`` (images/s, the data
  loading excluded from the timing);
* training: ``model.train_step`` with the config's optimizer wrapper (TBGN included; it gets s_k
  as from the multi-task train loop and the task with each batch) on batches of the task's
  ``train_dataloader`` (s/iter).

``--synthetic-inputs`` replaces the data loaders by random inputs of each task's kind (no dataset
needed).  ``--warmup`` iterations run first and are not timed.  Single-task configs (one loader,
not keyed by task) work too.  Runs on CUDA when available (``--device auto``), else CPU; fp16 AMP
optimizer wrappers fall back to fp32 on CPU.

Usage::

    python tools/analysis/benchmark.py configs/upv2_r50_8xgpu-150k_coco-in1k.py --synthetic-inputs \\
        --offline-text-stub --batch-size 2 --iters 10
    python tools/analysis/benchmark.py experiments/generalist_vs_specialists/configs/single_task/upv2_tiny_cls_synthetic.py
"""
import argparse
import copy
import itertools
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional

import torch

from ..testing.offline_build import add_build_arguments, build_model, load_config, tool_parser
from ..testing.synthetic_inputs import resolve_device, synthetic_batch, task_kind

#: optimizer-wrapper types that need CUDA (fp16) -> their fp32 counterparts on CPU
FP32_WRAPPERS = {'AmpOptimWrapper': 'OptimWrapper', 'AmpTBGNOptimWrapper': 'TBGNOptimWrapper'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): arguments (default ``sys.argv[1:]``).
    """
    parser = tool_parser(__doc__, with_tasks=True)
    parser.add_argument('--mode', choices=('inference', 'train', 'both'), default='both')
    parser.add_argument('--iters', type=int, default=10, help='timed iterations per task')
    parser.add_argument('--warmup', type=int, default=3, help='untimed iterations first')
    parser.add_argument('--synthetic-inputs', action='store_true',
                        help='random inputs instead of the config data loaders')
    parser.add_argument('--batch-size', type=int, default=2,
                        help='batch size of --synthetic-inputs')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='image size of --synthetic-inputs (default per task kind)')
    parser.add_argument('--num-workers', type=int, default=0,
                        help='data-loader workers (overrides the config; default 0)')
    parser.add_argument('--device', default='auto', help="'auto' (CUDA if available), 'cpu', "
                        "'cuda'")
    add_build_arguments(parser)
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    for key in ('iters', 'batch_size'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1, got {getattr(args, key)}')
    if args.warmup < 0 or args.num_workers < 0:
        parser.error('--warmup and --num-workers must be >= 0')
    return args


def task_loader_cfg(cfg, key: str, task: str, num_tasks: int) -> Optional[dict]:
    """The data-loader config of ``task`` under ``cfg[key]`` (task-keyed or single-task)."""
    loaders = cfg.get(key)
    if loaders is None:
        return None
    if 'dataset' in loaders:  # a single-task config
        return copy.deepcopy(loaders) if num_tasks == 1 else None
    return copy.deepcopy(loaders[task]) if task in loaders else None


def real_batches(cfg, key: str, task: str, num_tasks: int, num_workers: int
                 ) -> Optional[Iterator[dict]]:
    """Endless batches of ``task``'s data loader ``cfg[key]`` (None when it has none)."""
    from mmengine.runner import Runner
    loader_cfg = task_loader_cfg(cfg, key, task, num_tasks)
    if loader_cfg is None:
        return None
    loader_cfg['num_workers'] = num_workers
    if num_workers == 0:
        loader_cfg['persistent_workers'] = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)

    def endless() -> Iterator[dict]:
        while True:
            yield from loader

    return endless()


def batch_size_of(batch: dict) -> int:
    return len(batch['data_samples'])


def build_optim_wrapper(cfg, model, device: torch.device):
    """The config's optimizer wrapper (fp16 AMP wrappers -> fp32 on CPU)."""
    from mmengine.optim import build_optim_wrapper as build
    ow = copy.deepcopy(cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper, 'to_dict')
                       else cfg.optim_wrapper)
    if device.type == 'cpu' and ow.get('type') in FP32_WRAPPERS:
        print(f"NOTE: optim_wrapper {ow['type']} -> {FP32_WRAPPERS[ow['type']]} on CPU (fp32)")
        ow['type'] = FP32_WRAPPERS[ow['type']]
        ow.pop('dtype', None)
        ow.pop('loss_scale', None)
    return build(model, ow)


def hand_sampling_to_optimizer(cfg, optim_wrapper, tasks: List[str]) -> None:
    """Give a task-aware optimizer wrapper (TBGN) the s_k the multi-task train loop would."""
    if not hasattr(optim_wrapper, 'set_task_sampling'):
        return
    weights = {t: float(c.get('sampling_weight', 1.0))
               for t, c in (cfg.get('train_cfg', {}).get('tasks') or {}).items()}
    optim_wrapper.set_task_sampling(weights or {t: 1.0 for t in tasks},
                                    cfg.get('train_cfg', {}).get('sampling', 'unmixed'))


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_steps(step, batches: Iterator[dict], iters: int, warmup: int, device: torch.device
               ) -> Dict[str, float]:
    """Run ``step(batch)`` ``warmup`` times untimed, then ``iters`` times timed.

    Returns:
        dict: ``s_per_iter`` (mean) and ``samples_per_s``.
    """
    for batch in itertools.islice(batches, warmup):
        step(batch)
    sync(device)
    elapsed, samples = 0.0, 0
    for batch in itertools.islice(batches, iters):
        sync(device)
        t0 = time.perf_counter()
        step(batch)
        sync(device)
        elapsed += time.perf_counter() - t0
        samples += batch_size_of(batch)
    return dict(s_per_iter=elapsed / iters, samples_per_s=samples / elapsed,
                batch_size=samples / iters)


def benchmark(args: argparse.Namespace) -> List[Dict]:
    """Benchmark every requested task; returns one row per (task, mode)."""
    cfg = load_config(args.config, args.cfg_options)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        model, stubbed = build_model(cfg, args.offline_text_stub, tmp)
    model.to(device)
    if stubbed:
        print(f'NOTE: text encoder(s) {stubbed} replaced by offline stand-ins with the same '
              'architecture and random weights (--offline-text-stub).')
    names = args.tasks or list(model.tasks)
    unknown = [n for n in names if n not in model.tasks]
    if unknown:
        raise SystemExit(f'--tasks: unknown task(s) {unknown}; model.tasks has {list(model.tasks)}')
    modes = ('inference', 'train') if args.mode == 'both' else (args.mode, )
    optim_wrapper = build_optim_wrapper(cfg, model, device) if 'train' in modes else None
    if optim_wrapper is not None:
        hand_sampling_to_optimizer(cfg, optim_wrapper, list(model.tasks))
    rows = []
    for name in names:
        for mode in modes:
            training = mode == 'train'
            if args.synthetic_inputs:
                batch = synthetic_batch(model.tasks[name], args.batch_size,
                                        tuple(args.shape) if args.shape else None, training)
                batches = itertools.repeat(batch)
            else:
                key = 'train_dataloader' if training else 'val_dataloader'
                batches = real_batches(cfg, key, name, len(model.tasks), args.num_workers)
                if batches is None:
                    print(f'skip {name} {mode}: no {key} entry for it')
                    continue
            if training:
                model.train()

                def step(b, name=name):
                    model.train_step(dict(b, task=name), optim_wrapper)
            else:
                model.eval()

                def step(b, name=name):
                    model.test_step(dict(b, task=name))

            r = time_steps(step, batches, args.iters, args.warmup, device)
            rows.append(dict(task=name, kind=task_kind(model.tasks[name]), mode=mode, **r))
    return rows


def format_table(rows: List[Dict], device: str) -> str:
    lines = [f'| task | kind | mode | batch | s/iter | samples/s ({device}) |',
             '|---|---|---|---:|---:|---:|']
    for r in rows:
        lines.append(f"| {r['task']} | {r['kind']} | {r['mode']} | {r['batch_size']:.0f} | "
                     f"{r['s_per_iter']:.3f} | {r['samples_per_s']:.2f} |")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    """Print the benchmark table; returns its rows."""
    args = parse_args(argv)
    rows = benchmark(args)
    device = resolve_device(args.device)
    src = 'synthetic inputs' if args.synthetic_inputs else 'config data loaders'
    print(f'Benchmark of {args.config} ({src}, {args.warmup} warm-up + {args.iters} timed '
          f'iterations per task and mode)')
    print(format_table(rows, str(device)))
    return rows

