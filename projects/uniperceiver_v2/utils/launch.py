"""What ``tools/train.py`` and ``tools/test.py`` share: common arguments, config, distributed start."""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from .dist import init_dist


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local-rank`` (mmdet's names)."""
    parser.add_argument('--work-dir', help='the dir to save logs, checkpoints and metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs (mmengine DictAction syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace, tool: str) -> Config:
    """The config of ``args.config`` with the launcher, ``--cfg-options`` and work dir applied.

    Work dir priority: ``--work-dir`` > the config's ``work_dir`` > ``work_dirs/<config name>``.

    Args:
        args (Namespace): parsed arguments (see :func:`add_common_args`).
        tool (str): the script, for error messages (``'tools/train.py'``).
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise SystemExit(f'{tool}: config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def start_distributed(cfg: Config) -> None:
    """Create the process group for ``cfg.launcher`` before the runner does, CUDA or not.

    The runner finds the group initialised and keeps it; without CUDA it is gloo (see
    :func:`~uniperceiver_v2.utils.dist.init_dist`), so ``tools/dist_train.sh`` needs no flag.
    """
    if cfg.launcher == 'none':
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = init_dist(cfg.launcher, **dist_cfg)
    print_log(f'torch.distributed: {cfg.launcher} launcher, {backend} backend', logger='current')


def resume_checkpoint(cfg: Config) -> Optional[str]:
    """The checkpoint a ``cfg.resume=True`` run will load: ``cfg.load_from``, else the latest in
    ``cfg.work_dir`` (MMEngine's ``last_checkpoint`` record); None when there is none (the run then
    starts from scratch) or ``cfg.resume`` is off.

    Args:
        cfg (Config): the training config (after ``--resume`` was applied).
    """
    if not cfg.get('resume', False):
        return None
    if cfg.get('load_from'):
        return cfg.load_from
    return find_latest_checkpoint(cfg.work_dir)


def skip_pretrained_weights(cfg: Config, reason: str) -> List[str]:
    """Drop from ``cfg.model`` every weight file the model would read at build or init time, when
    a checkpoint that holds every weight is loaded after it (resume, test): ``Pretrained``
    ``init_cfg`` entries (URLs such as ``torchvision://resnet50``), the stage-1
    ``ImageEncoder.proposal_checkpoint`` and the text encoder's hub weights (``TextEncoder``
    then builds its architecture from the hub config; the tokenizer files are still read).

    No download and no stage-1 file is needed then; the weights come from the checkpoint.

    Args:
        cfg (Config): the config (``cfg.model`` is modified in place).
        reason (str): why, for the log line (``'--resume iter_2.pth'``).

    Returns:
        list[str]: what was skipped, one entry each (``'init_cfg Pretrained <checkpoint>'``,
        ``'proposal_checkpoint <path>'``, ``'text weights <name>'``).
    """
    skipped: List[str] = []

    def visit(node) -> None:
        if isinstance(node, dict):
            init = node.get('init_cfg')
            inits = init if isinstance(init, list) else [init]
            if any(isinstance(i, dict) and i.get('type') == 'Pretrained' for i in inits):
                for i in inits:
                    if isinstance(i, dict) and i.get('type') == 'Pretrained':
                        skipped.append(f"init_cfg Pretrained {i.get('checkpoint')}")
                kept = [i for i in inits
                        if not (isinstance(i, dict) and i.get('type') == 'Pretrained')]
                node['init_cfg'] = kept if isinstance(init, list) else None
            if node.get('type') == 'ImageEncoder' and node.get('proposal_checkpoint'):
                skipped.append(f"proposal_checkpoint {node['proposal_checkpoint']}")
                node['proposal_checkpoint'] = None
            if node.get('type') == 'TextEncoder' and node.get('load_weights', True):
                skipped.append(f"text weights {node.get('pretrained', 'roberta-base')}")
                node['load_weights'] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.model)
    if skipped:
        print_log(f'{reason}: every weight comes from the checkpoint, so these are not loaded '
                  f'first: {skipped}', logger='current')
    return skipped


def parse_train_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The arguments of ``tools/train.py`` (mmdet's: config, ``--amp``, ``--auto-scale-lr``,
    ``--resume`` and :func:`add_common_args`).

    Args:
        argv (list[str], optional): arguments (default ``sys.argv[1:]``).
    """
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
    return parser.parse_args(argv)


#: ``--amp`` value -> autocast dtype (``'auto'``: the wrapper's default, fp16 on CUDA, bf16 on CPU)
AMP_DTYPES = {'auto': None, 'fp16': 'float16', 'bf16': 'bfloat16'}


#: wrapper types that run TBGN
TBGN_WRAPPER_TYPES = ('TBGNOptimWrapper', 'AmpTBGNOptimWrapper')
TBGN_CONSTRUCTOR = 'TBGNOptimWrapperConstructor'


def set_amp(cfg: Config, mode: str = 'auto') -> None:
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
