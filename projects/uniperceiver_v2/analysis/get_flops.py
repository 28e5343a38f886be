"""FLOPs per task of a Uni-Perceiver v2 config for one input (and, with ``--params``, the parameter
table of count_params.py).

Every task of ``model.tasks`` gets one random input of its kind (an image of ``--shape`` or the
task's default size, its texts), goes through the model's data preprocessor and is run once in
``mode='tensor'`` (the task's inference features: class logits, retrieval embeddings, caption
generation, detection logits/boxes, masked-LM logits) under ``torch.utils.flop_counter
.FlopCounterMode``.  A first, uncounted call fills the target-embedding caches (class names,
vocabulary), which evaluation also computes once, so the count is the per-input cost.

Usage::

    python tools/analysis/get_flops.py configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py --offline-text-stub --params
    python tools/analysis/get_flops.py experiments/generalist_vs_specialists/configs/single_task/upv2_tiny_cls_synthetic.py --shape 64 64

Notes printed with the table: operators without a FLOP formula in ``FlopCounterMode`` count 0 -
notably the ``grid_sample`` of the deformable attention in the proposal network's pure-PyTorch
(CPU) path; one multiply-add = 2 FLOPs.
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..testing.offline_build import add_build_arguments, build_model, load_config, tool_parser
from ..testing.synthetic_inputs import DEFAULT_SHAPES, resolve_device, synthetic_batch, task_kind
from .count_params import component_params, format_param_table, paper_reference


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): arguments (default ``sys.argv[1:]``).
    """
    parser = tool_parser(__doc__, with_tasks=True)
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='image size for every task (default per task kind: detection '
                        '800x1333, classification 224x224, retrieval/captioning 384x384)')
    parser.add_argument('--params', action='store_true', help='also print the parameter table')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'auto'")
    add_build_arguments(parser)
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    if args.shape is not None and min(args.shape) < 32:
        parser.error(f'--shape must be at least 32x32, got {args.shape}')
    return args


@torch.no_grad()
def task_flops(model, task_name: str, shape=None, device=torch.device('cpu')) -> Dict:
    """FLOPs of one ``mode='tensor'`` call of task ``task_name`` on one synthetic input.

    Args:
        model: a built :class:`UniPerceiverV2` (in eval mode, on ``device``).
        task_name (str): key of ``model.tasks``.
        shape (tuple[int, int], optional): image (H, W); None = the task kind's default.
        device (torch.device): where the model is.

    Returns:
        dict: ``task``, ``kind``, ``shape`` and ``flops``.
    """
    task = model.tasks[task_name]
    kind = task_kind(task)
    batch = synthetic_batch(task, 1, shape, training=False)
    data = model.data_preprocessor(dict(batch, task=task_name), False)
    model(**data, mode='tensor')  # fill the target-embedding caches (as evaluation does)
    counter = FlopCounterMode(display=False)
    with counter:
        model(**data, mode='tensor')
    used = None if kind == 'mlm' else tuple(data['inputs'].shape[-2:])
    return dict(task=task_name, kind=kind, shape=used, flops=counter.get_total_flops())


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    """Print FLOPs per task (and the parameter table with ``--params``); returns the rows."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        model, stubbed = build_model(cfg, args.offline_text_stub, tmp,
                                      init_weights=False)
    # no parameter requires grad: FlopCounterMode's module tracker rejects such tensors under
    # no_grad
    model.to(device).eval().requires_grad_(False)
    names = args.tasks or list(model.tasks)
    unknown = [n for n in names if n not in model.tasks]
    if unknown:
        raise SystemExit(f'--tasks: unknown task(s) {unknown}; model.tasks has {list(model.tasks)}')
    print(f'FLOPs of {args.config} (one input per task, mode=tensor, {device})')
    if stubbed:
        print(f'NOTE: text encoder(s) {stubbed} replaced by offline stand-ins with the same '
              'architecture and random weights (--offline-text-stub).')
    rows = [task_flops(model, n, tuple(args.shape) if args.shape else None, device)
            for n in names]
    print('| task | kind | input (padded H x W) | GFLOPs |')
    print('|---|---|---|---:|')
    for r in rows:
        size = 'text only' if r['shape'] is None else f"{r['shape'][0]} x {r['shape'][1]}"
        print(f"| {r['task']} | {r['kind']} | {size} | {r['flops'] / 1e9:.2f} |")
    print('(1 multiply-add = 2 FLOPs; ops without a FlopCounterMode formula, e.g. grid_sample in '
          'deformable attention, count 0; captioning = one beam-search generation; default sizes '
          f'{ {k: v for k, v in DEFAULT_SHAPES.items() if v} })')
    if args.params:
        print()
        print(format_param_table(component_params(model), paper_reference(cfg)))
    return rows

