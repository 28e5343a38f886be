"""One-shot training benchmark of Base and Large on a GPU: images/s, step time, peak memory and
model FLOPs utilisation (MFU) per task, printed as JSON.

For each config (default ``configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py`` and ``configs/upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py``, built offline:
hub text encoders become architecture-exact stand-ins with random weights) and each of its tasks:
``--warmup`` untimed then ``--steps`` timed ``model.train_step`` calls with the config's TBGN
optimizer wrapper on one synthetic batch (``synthetic_inputs.py``) at paper resolution (detection
800 x 1333, classification 224, retrieval / captioning 384; ``--shape`` overrides), batch size from
the config's train loader of the task (``--batch-size`` overrides).  Then one more step under
``torch.utils.flop_counter.FlopCounterMode`` gives the model FLOPs of a step (forward + backward;
operators without a FLOP formula, e.g. ``grid_sample``, count 0), and
``MFU = FLOPs per step / step time / peak FLOP/s`` (``--peak-tflops``, default from the GPU name
for the autocast dtype; null where unknown, e.g. on CPU).  Peak memory: CUDA max allocated during
the timed steps; on CPU the peak resident set size (RSS, sampled every millisecond) during them;
``memory_before_step_mb`` is the same measure just before them (weights, optimizer state).

On CUDA the steps run under bf16 autocast (``--amp bf16``, TBGN without loss scaling) by default.
Without CUDA (or with ``--tiny``) it runs a tiny size instead - ``configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py``
at 64 px, batch 2, fp32, one step - so that the command itself is tested on CPU.  Timing is the
wall clock with CUDA synchronisation.

Usage::

    python experiments/component_benchmarks/benchmark_gpu.py                        # CUDA: Base + Large
    python experiments/component_benchmarks/benchmark_gpu.py --tiny                 # CPU smoke size
    python experiments/component_benchmarks/benchmark_gpu.py configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py --tasks lm --device cpu \\
        --batch-size 8 --steps 1 --warmup 0 --vocab-size 4096 --out base_lm.json
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from uniperceiver_v2.engine import TaskAwareOptimWrapper  # noqa: E402
from uniperceiver_v2.testing.offline_build import DictAction, build_model, load_config  # noqa: E402
from uniperceiver_v2.testing.synthetic_inputs import synthetic_batch, task_kind  # noqa: E402

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEFAULT_CONFIGS = ('configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py', 'configs/upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py')
TINY_CONFIG = 'configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py'
#: dense peak TFLOP/s per GPU name fragment and autocast dtype (vendor data sheets, no sparsity)
PEAK_TFLOPS = {
    'H200': dict(bf16=989.0, fp16=989.0, fp32=67.0),
    'H100': dict(bf16=989.0, fp16=989.0, fp32=67.0),
    'A100': dict(bf16=312.0, fp16=312.0, fp32=19.5),
    'L40S': dict(bf16=362.0, fp16=362.0, fp32=91.6),
    'V100': dict(bf16=None, fp16=125.0, fp32=15.7),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', help=f'configs (default {list(DEFAULT_CONFIGS)}; '
                        f'{TINY_CONFIG} with --tiny)')
    parser.add_argument('--tasks', nargs='+', help='task names (default: all of model.tasks)')
    parser.add_argument('--tiny', action='store_true',
                        help='CPU smoke size: tiny config, 64 px, batch 2, 1 step, fp32 '
                        '(default without CUDA)')
    parser.add_argument('--device', default='auto', help="'auto' (CUDA if available), 'cpu', "
                        "'cuda'")
    parser.add_argument('--steps', type=int, help='timed steps per task (default 3; tiny 1)')
    parser.add_argument('--warmup', type=int, help='untimed steps first (default 2; tiny 0)')
    parser.add_argument('--batch-size', type=int,
                        help='batch size of every task (default: the config train loader\'s; '
                        'tiny 2)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='image size of every image task (default paper resolution per task; '
                        'tiny 64 x 64)')
    parser.add_argument('--amp', choices=('bf16', 'fp16', 'fp32'),
                        help='autocast dtype (default bf16 on CUDA, fp32 on CPU)')
    parser.add_argument('--vocab-size', type=int,
                        help='cap full-vocabulary targets (vocabulary=None) to the first N ids '
                        '(CPU runs of Base/Large)')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP-counted step')
    parser.add_argument('--peak-tflops', type=float,
                        help='peak TFLOP/s of the device for MFU (default from the GPU name)')
    parser.add_argument('--out', help='also write the JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every config, key=value')
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available() and args.device != 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device')
    args.device = 'cuda' if cuda else 'cpu'
    if not cuda and not args.configs:
        args.tiny = True
    tiny = args.tiny
    args.configs = args.configs or ([TINY_CONFIG] if tiny else list(DEFAULT_CONFIGS))
    defaults = dict(steps=1 if tiny else 3, warmup=0 if tiny else 2,
                    batch_size=2 if tiny else None, shape=(64, 64) if tiny else None,
                    amp='bf16' if cuda and not tiny else 'fp32')
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.steps < 1 or args.warmup < 0 or (args.batch_size is not None and args.batch_size < 1):
        parser.error('--steps and --batch-size must be >= 1, --warmup >= 0')
    # configs are found relative to the working directory, else to the repository root
    args.configs = [c if osp.isfile(c) else osp.join(ROOT, c) for c in args.configs]
    for path in args.configs:
        if not osp.isfile(path):
            parser.error(f'config not found: {path}')
    return args


class PeakRSS:
    """Peak resident set size of this process, sampled every millisecond in a thread."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._page = os.sysconf('SC_PAGE_SIZE')
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> 'PeakRSS':
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def peak_tflops(args: argparse.Namespace, device: torch.device) -> Optional[float]:
    """Peak TFLOP/s for MFU: ``--peak-tflops`` or the table by GPU name; None when unknown."""
    if args.peak_tflops:
        return args.peak_tflops
    if device.type != 'cuda':
        return None
    name = torch.cuda.get_device_name(device)
    for key, table in PEAK_TFLOPS.items():
        if key in name:
            return table.get(args.amp)
    return None


def optim_wrapper_cfg(cfg, amp: str) -> dict:
    """The config's optimizer wrapper with the autocast dtype of ``--amp`` (as tools/train.py)."""
    ow = copy.deepcopy(cfg.optim_wrapper.to_dict())
    if amp == 'fp32':
        if ow.get('type') in ('AmpOptimWrapper', 'AmpTBGNOptimWrapper'):
            ow['type'] = 'OptimWrapper'
        ow.pop('dtype', None)
        ow.pop('loss_scale', None)
    else:
        ow.update(type='AmpOptimWrapper', loss_scale='dynamic',
                  dtype=dict(bf16='bfloat16', fp16='float16')[amp])
    return ow


def cap_vocabularies(cfg, size: int) -> None:
    """Replace full-vocabulary targets (``vocabulary=None``) of every task by ids ``0..size-1``."""
    for task in cfg.model.tasks.values():
        if 'vocabulary' in task and task['vocabulary'] is None:
            task['vocabulary'] = list(range(size))


def batch_size_of(cfg, task: str, override: Optional[int]) -> int:
    if override:
        return override
    loaders = cfg.get('train_dataloader') or {}
    loader = loaders.get(task) if 'dataset' not in loaders else loaders
    return int(loader['batch_size']) if loader and 'batch_size' in loader else 2


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def benchmark_config(path: str, args: argparse.Namespace) -> List[Dict]:
    """Rows (one per task) of one config."""
    from mmengine.optim import build_optim_wrapper
    device = torch.device(args.device)
    cfg = load_config(path, args.cfg_options)
    if args.vocab_size:
        cap_vocabularies(cfg, args.vocab_size)
    with tempfile.TemporaryDirectory() as tmp:
        model, stubbed = build_model(cfg, True, tmp)
    model.to(device).train()
    wrapper = build_optim_wrapper(model, optim_wrapper_cfg(cfg, args.amp))
    weights = {t: float(c.get('sampling_weight', 1.0))
               for t, c in (cfg.get('train_cfg', {}).get('tasks') or {}).items()}
    if isinstance(wrapper, TaskAwareOptimWrapper):
        wrapper.set_task_sampling(weights or {t: 1.0 for t in model.tasks})
    names = args.tasks or list(model.tasks)
    unknown = [n for n in names if n not in model.tasks]
    if unknown:
        raise SystemExit(f'--tasks: unknown task(s) {unknown} in {path}; model.tasks has '
                         f'{list(model.tasks)}')
    num_params = sum(p.numel() for p in model.parameters())
    peak = peak_tflops(args, device)
    rows = []
    for name in names:
        task = model.tasks[name]
        kind = task_kind(task)
        bs = batch_size_of(cfg, name, args.batch_size)
        batch = synthetic_batch(task, bs, tuple(args.shape) if args.shape else None, True)
        batch['task'] = name

        def step():
            model.train_step(batch, wrapper)

        for _ in range(args.warmup):
            step()
        sync(device)
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
            tracker = None
            before_mem = torch.cuda.memory_allocated(device)
        else:
            tracker = PeakRSS().__enter__()
            before_mem = tracker.peak
        times = []
        for _ in range(args.steps):
            sync(device)
            t0 = time.perf_counter()
            step()
            sync(device)
            times.append(time.perf_counter() - t0)
        if tracker is not None:
            tracker.__exit__()
            peak_mem = tracker.peak
        else:
            peak_mem = torch.cuda.max_memory_allocated(device)
        step_s = sorted(times)[len(times) // 2]
        flops = None
        if not args.no_flops:
            counter = FlopCounterMode(display=False)
            with counter:
                step()
            flops = counter.get_total_flops()
        images = bs if batch['inputs'] is not None else 0
        h, w = (tuple(batch['inputs'][0].shape[-2:]) if images else (None, None))
        rows.append(dict(
            config=osp.relpath(osp.abspath(path), ROOT), task=name, kind=kind, device=str(device),
            device_name=(torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'),
            amp=args.amp, batch_size=bs, image_size=[h, w] if images else None,
            steps=args.steps, step_time_s=step_s,
            images_per_s=images / step_s if images else None,
            samples_per_s=bs / step_s,
            peak_memory_mb=peak_mem / 2**20, memory_before_step_mb=before_mem / 2**20,
            peak_memory_kind='cuda_max_allocated' if device.type == 'cuda' else 'cpu_peak_rss',
            tflops_per_step=flops / 1e12 if flops is not None else None,
            mfu=(flops / step_s / (peak * 1e12)) if (flops is not None and peak) else None,
            params_m=num_params / 1e6, text_encoder_stand_in=stubbed))
    del model, wrapper
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return rows


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    """Benchmark every config and print the rows as JSON; returns the rows."""
    args = parse_args(argv)
    if args.device == 'cpu':
        print('NOTE: no CUDA device - CPU run (peak memory = peak RSS, MFU null)',
              file=sys.stderr)
    rows = []
    for path in args.configs:
        rows.extend(benchmark_config(path, args))
    text = json.dumps(rows, indent=1)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return rows


if __name__ == '__main__':
    main()
