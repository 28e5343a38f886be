"""Test (and evaluate) a Uni-Perceiver v2 checkpoint, mmdet style.

Usage::

    python tools/test.py configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py work_dirs/upv2_mobilenetv2_1xcpu-770it_synthetic/iter_770.pth
    python tools/test.py CONFIG CKPT --show-dir vis --out preds.pkl
    bash tools/dist_test.sh CONFIG CKPT 8

Multi-task configs (``test_cfg=dict(type='MultiTaskTestLoop')``) evaluate every task and print each
metric under its task name; ``--out results.pkl`` then writes one file per task
(``results_<task>.pkl``) and ``--show-dir`` draws each task's predictions into its own folder.
"""
import argparse
import os.path as osp
import sys

from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import uniperceiver_v2  # noqa: E402,F401
from uniperceiver_v2.utils import apply_compat  # noqa: E402
from uniperceiver_v2.utils.checkpoint import check_checkpoint_matches  # noqa: E402
from uniperceiver_v2.utils.launch import (add_common_args, load_config,  # noqa: E402,E501
                                           skip_pretrained_weights, start_distributed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a Uni-Perceiver v2 model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a pickle file (one per task: <name>_<task>.pkl)')
    parser.add_argument('--show-dir', help='draw predictions into <work_dir>/<timestamp>/<show-dir>')
    parser.add_argument('--score-thr', type=float, default=0.3, help='drawing score threshold')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    apply_compat()  # safe-loading of MMEngine's own checkpoints
    cfg = load_config(args, 'tools/test.py')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'tools/test.py: --out must be a .pkl file, got {args.out}')

    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'tools/test.py: checkpoint file not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    # the checkpoint holds every weight: no Pretrained download, no stage-1 file, no text weights
    skip_pretrained_weights(cfg, f'tools/test.py {args.checkpoint}')

    if args.show_dir:
        cfg.default_hooks = cfg.get('default_hooks', {})
        cfg.default_hooks['visualization'] = dict(
            type='MultiTaskVisualizationHook', draw=True, test_out_dir=args.show_dir,
            score_thr=args.score_thr)
        if cfg.get('visualizer', None) is None or 'UniPerceiverV2' not in cfg.visualizer.type:
            cfg.visualizer = dict(type='UniPerceiverV2Visualizer',
                                  vis_backends=[dict(type='LocalVisBackend')], name='visualizer')

    start_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    check_checkpoint_matches(args.checkpoint, runner.model)

    if args.out is not None:
        loop = runner.test_loop
        evaluators = getattr(loop, 'evaluators', None)
        if isinstance(evaluators, dict):  # multi-task: one dump per task
            stem, ext = osp.splitext(args.out)
            for task, evaluator in evaluators.items():
                evaluator.metrics.append(DumpResults(out_file_path=f'{stem}_{task}{ext}'))
        else:
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))

    runner.test()


if __name__ == '__main__':
    main()
