"""What ``tools/train.py`` and ``tools/test.py`` share: common arguments, config, distributed start."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

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
