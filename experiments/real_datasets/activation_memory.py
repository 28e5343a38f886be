"""GPU-memory estimate per task of the real configs: model states plus the tensors one training
forward keeps for the backward pass, measured on the mock of the real layouts.

    python experiments/real_datasets/activation_memory.py --configs r50_grounding_semseg base \
        --out experiments/real_datasets/activation_memory.json

For each task of a config, one batch of 1 and one of 2 samples go through the config's own
training pipeline (real image scales) into ``model(..., mode='loss')`` under
``torch.autograd.graph.saved_tensors_hooks``; the distinct storages saved for backward (parameters
excluded) are summed.  The two sizes give a fixed part (what does not grow with the batch: the
candidate target sets' text side) and a per-sample part, so the estimate at the config's batch
size B is ``states + fixed + B * per_sample``, with ``states`` = 20 bytes per trained parameter
(fp32 weights, gradients, two AdamW moments, DDP's gradient buckets).  Configs trained with AMP
run the forward under bf16 autocast (the CPU's half type; fp16 on GPU keeps the same sizes).
The text encoder is a one-layer stand-in (RoBERTa-base's own activations for the candidate
target sets - 1,000 class names, the vocabulary - are measured in ``experiments/target_sets/``);
captioning and language modelling take the caption file's words as vocabulary (``REAL_RUNS``).  Allocator overhead and the backward pass's
temporaries are not included: read the numbers as lower bounds.
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from mmengine.dataset import pseudo_collate

from uniperceiver_v2.testing import build_model, load_config
from uniperceiver_v2.testing.entry_points import REPO_ROOT
from uniperceiver_v2.testing.real_configs import REAL_RUNS
from uniperceiver_v2.testing.real_layouts import generate_real_layouts

GIB = 1024 ** 3


def saved_bytes(model, batch: dict, amp: bool) -> int:
    """Bytes of the distinct non-parameter storages one loss forward saves for backward."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params and storage.device.type != 'meta':
            seen[storage.data_ptr()] = storage.nbytes()
        return t  # kept until the loss is dropped: storages of one forward are all distinct

    cast = (torch.autocast('cpu', dtype=torch.bfloat16) if amp else contextlib.nullcontext())
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), cast:
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
    del losses
    return sum(seen.values())


def measure_task(name: str, task: str, data_dir: Path, out_file: str) -> None:
    """Append one JSON line per batch size (1, 2) with the saved bytes of ``task`` of
    ``REAL_RUNS[name]`` to ``out_file`` (run in a child process, see :func:`measure_config`)."""
    from mmdet.registry import DATASETS
    config, overrides, _, _ = REAL_RUNS[name]
    cfg = load_config(str(REPO_ROOT / 'configs' / config), overrides)
    model, _ = build_model(cfg, offline_text_stub=True, stub_root=str(data_dir / 'stubs'),
                           exact_text_stub=False, init_weights=True)
    model.train()
    amp = 'Amp' in cfg.optim_wrapper.get('type', '')
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    dataset = DATASETS.build(cfg.train_dataloader[task].dataset)
    for n in (1, 2):
        batch = pseudo_collate([dataset[i] for i in range(n)])
        batch['task'] = task
        with open(out_file, 'a') as f:
            f.write(json.dumps(dict(n=n, bytes=saved_bytes(model, batch, amp), params=params,
                                    amp=amp)) + '\n')


def _rss_gib(pid: int) -> float:
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024 ** 2
    except FileNotFoundError:
        pass
    return 0.0


def measure_config(name: str, data_dir: Path, limit_gib: float) -> dict:
    """Per-task fixed and per-sample saved bytes of ``REAL_RUNS[name]`` and its states; each
    task in its own process, stopped when its RSS passes ``limit_gib`` (then only what was
    measured before is reported, and ``over_limit`` names the batch size)."""
    config = REAL_RUNS[name][0]
    cfg = load_config(str(REPO_ROOT / 'configs' / config))
    tasks, params, amp = {}, 0, False
    for task, loader in cfg.train_dataloader.items():
        out_file = data_dir / f'{name}_{task}.jsonl'
        proc = subprocess.Popen([sys.executable, __file__, '--child', name, task, str(data_dir),
                                 str(out_file)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, OMP_NUM_THREADS=os.environ.get(
                                    'OMP_NUM_THREADS', '2')))
        over = False
        while proc.poll() is None:
            if _rss_gib(proc.pid) > limit_gib:
                proc.kill()
                over = True
            time.sleep(0.2)
        lines = ([json.loads(line) for line in out_file.read_text().splitlines()]
                 if out_file.exists() else [])
        b = loader.batch_size
        entry = dict(batch_size=b)
        if lines:
            params, amp = lines[0]['params'], lines[0]['amp']
            entry['batch1_gib'] = round(lines[0]['bytes'] / GIB, 2)
        if len(lines) == 2:
            per_sample = max(lines[1]['bytes'] - lines[0]['bytes'], 0)
            fixed = max(lines[0]['bytes'] - per_sample, 0)
            entry.update(fixed_gib=round(fixed / GIB, 2), per_sample_gib=round(per_sample / GIB, 2),
                         activations_at_batch_gib=round((fixed + b * per_sample) / GIB, 1))
        if over:
            entry['over_limit'] = f'batch {len(lines) + 1} passed {limit_gib} GiB of host memory'
        tasks[task] = entry
        print(name, task, entry, flush=True)
    states = 20 * params
    for t in tasks.values():
        if 'activations_at_batch_gib' in t:
            t['estimate_gib'] = round(states / GIB + t['activations_at_batch_gib'], 1)
    return dict(config=f'configs/{config}', trained_params_m=round(params / 1e6, 1),
                amp=amp, states_gib=round(states / GIB, 1), tasks=tasks)


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == '--child':
        os.chdir(sys.argv[4])
        measure_task(sys.argv[2], sys.argv[3], Path(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=['r50_grounding_semseg', 'base'],
                        choices=list(REAL_RUNS))
    parser.add_argument('--limit-gib', type=float, default=12.0,
                        help='host memory at which a task is stopped (default 12)')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix='activation_memory_'))
    generate_real_layouts(str(work / 'data'))
    out = os.path.abspath(args.out)
    os.chdir(work)  # the configs' data/... paths
    results = {name: measure_config(name, work, args.limit_gib) for name in args.configs}
    with open(out, 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
