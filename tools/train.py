"""Train a Uni-Perceiver v2 model (or any of the plugin's components) from an MMEngine config.

Usage (mmdet style)::

    python tools/train.py configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/x --amp --resume
    python tools/train.py CONFIG --amp bf16   # bf16 autocast, no loss scaling
    bash tools/dist_train.sh CONFIG 8   # 8 processes (torchrun): nccl on GPUs, gloo without CUDA

A SIGTERM (Slurm preemption / time limit) makes a ``MultiTaskTrainLoop`` run finish its iteration,
save a checkpoint and exit with status 75; ``--resume`` continues from it.
"""
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

# Importing the plugin registers its components, even for configs without custom_imports.
import uniperceiver_v2  # noqa: E402,F401
from uniperceiver_v2.utils import apply_compat  # noqa: E402
from uniperceiver_v2.utils.launch import (load_config, parse_train_args, resume_checkpoint,  # noqa: E402,E501
                                           set_amp, skip_pretrained_weights, start_distributed)


def main() -> None:
    args = parse_train_args()
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
