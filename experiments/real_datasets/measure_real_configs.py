"""Peak host memory and time per step of the shipped real configs on the mock of the real layouts.

    python experiments/real_datasets/measure_real_configs.py --out results_ci.json
    python experiments/real_datasets/measure_real_configs.py --configs r50_4task --scale 1 \
        --full-depth --iters 8 --out results_r50_full.json

Each config runs through ``tools/train.py`` offline (one validation at the end) with the run
settings of the integration tests (``uniperceiver_v2.testing.real_configs.REAL_RUNS``: local text
model, captioning / language-modelling vocabulary from the caption file, ``Pretrained`` dropped,
no stage 1), batch 1 per task, image scales x ``--scale`` and, without ``--full-depth``, one
decoder layer and a shallower proposal transformer.  ``StepMemoryHook`` records every iteration's
task, seconds and peak RSS of the main process (data workers not included); the GNU ``time``
maximum RSS of the whole run is recorded too.  The summary (per config and task: steps, median
seconds, peak RSS and peak growth over the step's start) is written as JSON.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from uniperceiver_v2.testing.entry_points import REPO_ROOT, train_env
from uniperceiver_v2.testing.offline_build import make_text_stub
from uniperceiver_v2.testing.real_configs import (REAL_RUNS, SMALL_DEPTH, offline_env,
                                                  write_real_run_config)
from uniperceiver_v2.testing.real_layouts import generate_real_layouts


def measure(name: str, run_dir: Path, scale: float, full_depth: bool, iters: int,
            validate: bool = True, eval_batch_size: Optional[int] = 4) -> dict:
    """Train ``iters`` iterations of ``REAL_RUNS[name]`` (and validate, where the integration
    tests do and ``validate``) and summarise its step records."""
    config, overrides, backbone, full = REAL_RUNS[name]
    validate = validate and full
    records = run_dir / f'steps_{name}.jsonl'
    if records.exists():
        records.unlink()
    extra = dict(overrides, **({} if full_depth else SMALL_DEPTH))
    extra.update(custom_hooks=[dict(type='StepMemoryHook', out_file=str(records))],
                 custom_imports=dict(imports=['uniperceiver_v2',
                                              'uniperceiver_v2.testing.step_memory_hook'],
                                     allow_failed_imports=False))
    if not validate:
        extra.update(val_cfg=None, val_dataloader=None, val_evaluator=None)
    cfg = write_real_run_config(REPO_ROOT / 'configs' / config, run_dir / f'{name}.py',
                                text_model=str(run_dir / 'text_model'), max_iters=iters,
                                batch_size=1, scale_factor=scale, backbone=backbone,
                                eval_batch_size=eval_batch_size, extra=extra)
    time_file = run_dir / f'time_{name}.txt'
    cmd = ['/usr/bin/time', '-f', '%M %e', '-o', str(time_file), sys.executable,
           str(REPO_ROOT / 'tools' / 'train.py'), str(cfg), '--work-dir', str(run_dir / name)]
    proc = subprocess.run(cmd, cwd=run_dir, env=offline_env(train_env()), capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{name}: {cmd} exited {proc.returncode}\n{proc.stderr[-4000:]}')
    max_rss_kib, wall = time_file.read_text().split()[-2:]
    steps = [json.loads(line) for line in records.read_text().splitlines()]
    tasks = {}
    for s in steps:
        if s['phase'] == 'train':
            tasks.setdefault(s['task'], []).append(s)
    summary = {task: dict(steps=len(v),
                          median_seconds=round(statistics.median(x['seconds'] for x in v), 2),
                          peak_rss_gib=round(max(x['peak_rss_mib'] for x in v) / 1024, 2),
                          peak_growth_gib=round(max(x['peak_rss_mib'] - x['start_rss_mib']
                                                    for x in v) / 1024, 2))
               for task, v in sorted(tasks.items())}
    evals = [dict(phase=s['phase'], seconds=round(s['seconds'], 1),
                  peak_rss_gib=round(s['peak_rss_mib'] / 1024, 2))
             for s in steps if s['phase'] != 'train']
    return dict(config=f'configs/{config}', scale=scale, full_depth=full_depth, iters=iters,
                max_rss_gib=round(int(max_rss_kib) / 1024 ** 2, 2), wall_seconds=float(wall),
                tasks=summary, evaluation=evals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=list(REAL_RUNS), choices=list(REAL_RUNS))
    parser.add_argument('--scale', type=float, default=0.25)
    parser.add_argument('--full-depth', action='store_true')
    parser.add_argument('--iters', type=int, default=6)
    parser.add_argument('--no-val', action='store_true', help='no validation at the end')
    parser.add_argument('--config-eval-batch', action='store_true',
                        help="evaluate at the configs' batch sizes (default: 4)")
    parser.add_argument('--out', required=True, help='summary JSON file')
    parser.add_argument('--work-dir', help='default: a temporary folder')
    args = parser.parse_args()
    run_dir = Path(args.work_dir or tempfile.mkdtemp(prefix='real_configs_'))
    if not (run_dir / 'data').exists():
        generate_real_layouts(str(run_dir / 'data'))
        make_text_stub(str(run_dir / 'text_model'))
    results = {}
    for name in args.configs:
        results[name] = measure(name, run_dir, args.scale, args.full_depth, args.iters,
                                not args.no_val,
                                None if args.config_eval_batch else 4)
        print(json.dumps({name: results[name]}, indent=1), flush=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(cpu_count=os.cpu_count(), load_average=os.getloadavg(), results=results),
                  f, indent=1)


if __name__ == '__main__':
    main()
