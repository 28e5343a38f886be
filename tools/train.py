"""Train a Uni-Perceiver v2 model (or any of the plugin's components) from an MMEngine config.

Usage (mmdet style)::

    python tools/train.py configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/x --amp --resume
    python tools/train.py CONFIG --amp bf16   # bf16 autocast, no loss scaling
    bash tools/dist_train.sh CONFIG 8   # 8 processes (torchrun): nccl on GPUs, gloo without CUDA

A SIGTERM (Slurm preemption / time limit) makes a ``MultiTaskTrainLoop`` run finish its iteration,
save a checkpoint and exit with status 75; ``--resume`` continues from it.
"""
import argparse
import os.path as osp
import sys

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

# Importing the plugin registers its components, even for configs without custom_imports.
import uniperceiver_v2  # noqa: E402,F401
from uniperceiver_v2.utils import apply_compat  # noqa: E402
from uniperceiver_v2.utils.launch import (add_common_args, load_config, resume_checkpoint,  # noqa: E402,E501
                                           skip_pretrained_weights, start_distributed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a Uni-Perceiver v2 model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', nargs='?', const='auto', choices=('auto', 'fp16', 'bf16'),
                        help='automatic mixed precision: fp16 autocast with dynamic loss scaling '
                        '(plain --amp on CUDA, or --amp fp16) or bf16 autocast without loss '
                        'scaling (--amp bf16; plain --amp on CPU, the only CPU autocast dtype). '
                        'Put it after the config path.')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, from the latest checkpoint in work_dir')
    add_common_args(parser)
    return parser.parse_args()


#: ``--amp`` value -> autocast dtype (``'auto'``: the wrapper's default, fp16 on CUDA, bf16 on CPU)
AMP_DTYPES = {'auto': None, 'fp16': 'float16', 'bf16': 'bfloat16'}


#: wrapper types that run TBGN
TBGN_WRAPPER_TYPES = ('TBGNOptimWrapper', 'AmpTBGNOptimWrapper')
TBGN_CONSTRUCTOR = 'TBGNOptimWrapperConstructor'


def set_amp(cfg, mode: str = 'auto') -> None:
    """Switch ``cfg.optim_wrapper`` to AMP as mmdet's ``--amp`` does, with a chosen dtype.

    ``type='AmpOptimWrapper'`` with dynamic loss scaling, as mmdet's switch; under
    ``constructor='TBGNOptimWrapperConstructor'`` that builds ``AmpTBGNOptimWrapper`` for a TBGN
    config (``type='TBGNOptimWrapper'`` or no type), and a config of MMEngine's plain
    ``OptimWrapper`` gets MMEngine's default constructor, so it stays without TBGN.  A TBGN
    wrapper under another constructor becomes ``'AmpTBGNOptimWrapper'`` directly.  ``'bf16'``
    adds ``dtype='bfloat16'`` (no loss is then scaled), ``'fp16'`` ``dtype='float16'``.

    Args:
        cfg (Config): the training config (modified in place).
        mode (str): ``'auto'``, ``'fp16'`` or ``'bf16'``.
    """
    if mode not in AMP_DTYPES:
        raise ValueError(f'--amp must be one of {sorted(AMP_DTYPES)}, got {mode!r}')
    wrapper_type = cfg.optim_wrapper.get('type')
    tbgn_constructor = cfg.optim_wrapper.get('constructor') == TBGN_CONSTRUCTOR
    if wrapper_type in TBGN_WRAPPER_TYPES or (wrapper_type is None and tbgn_constructor):
        cfg.optim_wrapper.type = 'AmpOptimWrapper' if tbgn_constructor else 'AmpTBGNOptimWrapper'
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        if tbgn_constructor:  # it reads 'AmpOptimWrapper' as mmdet's --amp over TBGN
            cfg.optim_wrapper.constructor = 'NoDecayOptimWrapperConstructor'
    cfg.optim_wrapper.loss_scale = 'dynamic'
    if AMP_DTYPES[mode] is not None:
        cfg.optim_wrapper.dtype = AMP_DTYPES[mode]


def main() -> None:
    args = parse_args()
    apply_compat()  # safe-loading of MMEngine's own checkpoints (resume), atomic checkpoint writes
    cfg = load_config(args, 'tools/train.py')

    # Same switch as mmdet's tools/train.py; the TBGN wrapper is built to survive it.
    if args.amp:
        set_amp(cfg, args.amp)

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
    checkpoint = resume_checkpoint(cfg)
    if checkpoint:  # it holds every weight: no Pretrained download, no stage-1 file first
        skip_pretrained_weights(cfg, f'--resume {checkpoint}')

    start_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
