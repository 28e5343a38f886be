"""Train a Uni-Perceiver v2 model (or any of the plugin's components) from an MMEngine config.

Usage (mmdet style)::

    python tools/train.py configs/upv2_tiny_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/x --amp --resume
    bash tools/dist_train.sh CONFIG 8   # 8 processes (torchrun): nccl on GPUs, gloo without CUDA

A SIGTERM (Slurm preemption / time limit) makes a ``MultiTaskTrainLoop`` run finish its iteration,
save a checkpoint and exit with status 75; ``--resume`` continues from it.
"""
import argparse
import os.path as osp
import sys

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

# Importing the plugin registers its components and installs the compatibility shims (e.g. the
# safe-load allow-list that resuming needs), even for configs without custom_imports.
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', 'projects'))
import uniperceiver_v2  # noqa: E402,F401
from uniperceiver_v2.utils.launch import add_common_args, load_config, start_distributed  # noqa: E402,E501


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a Uni-Perceiver v2 model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, from the latest checkpoint in work_dir')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args, 'tools/train.py')

    # Same switch as mmdet's tools/train.py; the TBGN wrapper is built to survive it.
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('--auto-scale-lr needs "auto_scale_lr.enable" and '
                               '"auto_scale_lr.base_batch_size" in the config')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    start_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
