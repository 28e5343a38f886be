"""Train the R-50 4-task real config on the CPU at batch 2 per task, with the full vocabulary and
all 1,000 ImageNet class names, and report each task's step time and peak memory.

The config is used as it is except for what a machine without the model hub forces: the text
model is the offline all-MiniLM-L6-v2 tokenizer (30,522 vocabulary targets) with the
RoBERTa-base architecture (random weights), and the data are synthetic batches at the pipelines'
training sizes (detection 800x1333, classification 224, retrieval and captioning 384).  Each task
runs in its own process (``--task``) so that its peak RSS is its own; the optimizer wrapper is the
config's (TBGN).

Usage::

    python experiments/target_sets/smoke_r50_cpu.py                   # every task, one by one
    python experiments/target_sets/smoke_r50_cpu.py --cfg-options \\
        model.tasks.coco_cap.candidates.mode=exact                     # another candidate setting
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

import torch

R50 = 'configs/upv2_r50_8xgpu-150k_coco-in1k.py'
TASKS = ('coco_det', 'in1k_cls', 'coco_ret', 'coco_cap')


def run_task(config: str, task_name: str, steps: int, batch_size: int, options: dict) -> dict:
    from mmengine.optim import build_optim_wrapper

    from uniperceiver_v2.testing import build_model, load_config, synthetic_batch
    cfg = load_config(config, options)
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = build_model(cfg, True, tmp)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    if hasattr(optim, 'set_task_sampling'):
        optim.set_task_sampling({t: 1.0 / len(model.tasks) for t in model.tasks}, 'unmixed')
    task = model.tasks[task_name]
    times, logs = [], []
    for i in range(steps):
        batch = synthetic_batch(task, batch_size, None, True, seed=i)
        batch['task'] = task_name
        t0 = time.perf_counter()
        log = model.train_step(batch, optim)
        times.append(time.perf_counter() - t0)
        logs.append({k: float(v) for k, v in log.items()})
    c = task.candidates
    return dict(task=task_name, batch=batch_size, step_seconds=times, log=logs[-1],
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                candidates=dict(mode=c.mode, shard=c.shard, num_samples=c.num_samples,
                                refresh_interval=c.refresh_interval))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=R50)
    parser.add_argument('--task', help='one task in this process (default: each in its own)')
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', help='JSON lines file to append the results to')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args(argv)
    if args.task is None:
        for name in TASKS:
            cmd = [sys.executable, __file__, '--config', args.config, '--task', name,
                   '--steps', str(args.steps), '--batch', str(args.batch),
                   '--threads', str(args.threads)]
            cmd += ['--out', args.out] if args.out else []
            cmd += ['--cfg-options', *args.cfg_options] if args.cfg_options else []
            subprocess.run(cmd, check=True)
        return 0
    torch.set_num_threads(args.threads)
    from mmengine.config import DictAction
    options = {}
    for item in args.cfg_options:  # key=value as --cfg-options of tools/train.py
        key, value = item.split('=', 1)
        options[key] = DictAction._parse_iterable(value)
    out = run_task(args.config, args.task, args.steps, args.batch, options)
    out['cfg_options'] = args.cfg_options
    print(json.dumps(out))
    if args.out:
        with open(args.out, 'a') as f:
            f.write(json.dumps(out, default=str) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
