"""Does it help to route class names and retrieval captions to different experts?

``TokenKind.RETRIEVAL_TEXT`` and ``TokenKind.CLASS_NAME_TARGET`` have the same attribute bits, so
the attribute MoE sends both to the same experts.  This trains the embedded default restricted to
classification + retrieval (the two tasks that use those kinds) twice from the same seed - with
the shared bits, and with class names marked as targets of an image-input task
(``INPUT_HAS_IMAGE | TEXT | TARGET_SIDE``, no ``INPUT_HAS_TEXT``) - and prints both tasks' metrics.

Example (needs ``data/synthetic``, see docs/dataset_preparation.md)::

    python experiments/token_kind_routing/token_kind_routing.py --iters 600 --work-dir work_dirs/token_kinds
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py')
TASKS = ('syn_cls', 'syn_ret')


def two_task_config(iters: int, work_dir: str, seed: int) -> Config:
    """The embedded default with only classification and retrieval, ``iters`` iterations."""
    cfg = Config.fromfile(CONFIG)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator'):
        cfg[key] = {t: cfg[key][t] for t in TASKS}
    cfg.model.tasks = {t: cfg.model.tasks[t] for t in TASKS}
    cfg.train_cfg.tasks = {t: dict(sampling_weight=1.0) for t in TASKS}
    cfg.train_cfg.max_iters, cfg.train_cfg.val_interval = iters, iters + 1  # validated after
    cfg.param_scheduler[0].end = cfg.param_scheduler[1].begin = max(1, iters // 20)
    cfg.param_scheduler[1].end = iters
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.pop('visualization', None)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def run(separate_class_names: bool, iters: int, work_dir: str, seed: int) -> Dict[str, float]:
    """Train and validate once; returns the validation metrics."""
    from uniperceiver_v2.models import attributes as attr
    table = attr.TOKEN_ATTRIBUTES
    shared = table[attr.TokenKind.CLASS_NAME_TARGET]
    if separate_class_names:
        a = attr.Attribute
        table[attr.TokenKind.CLASS_NAME_TARGET] = a.INPUT_HAS_IMAGE | a.TEXT | a.TARGET_SIDE
    try:
        runner = Runner.from_cfg(two_task_config(iters, work_dir, seed))
        runner.train()
        return dict(runner.val())
    finally:
        table[attr.TokenKind.CLASS_NAME_TARGET] = shared


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=600, help='training iterations per run')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default='work_dirs/token_kind_routing')
    parser.add_argument('--variant', choices=('shared', 'separate', 'both'), default='both',
                        help='run one variant only (e.g. both in parallel processes)')
    args = parser.parse_args(argv)
    results = {}
    for name in ('shared', 'separate'):
        if args.variant in (name, 'both'):
            results[name] = run(name == 'separate', args.iters, osp.join(args.work_dir, name),
                                args.seed)
    if len(results) == 1:
        print(results)
        return
    keys = sorted(set(results['shared']) & set(results['separate']))
    print('| metric | shared bits (today) | class names separate |')
    print('|---|---:|---:|')
    for key in keys:
        print(f"| {key} | {results['shared'][key]:.2f} | {results['separate'][key]:.2f} |")


if __name__ == '__main__':
    main()
