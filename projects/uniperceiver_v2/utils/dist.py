"""Distributed helpers shared by model, engine and tools."""
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping the autograd graph.

    Gradients flow back to the rank that produced each slice (``torch.distributed.nn`` all_gather),
    which is what retrieval with gathered negatives needs (paper §4, "gather feature").  Without an
    initialised process group, or with a single rank, ``x`` is returned unchanged.

    Args:
        x (Tensor): ``(B, ...)`` local features; every rank must pass the same shape.

    Returns:
        Tensor: ``(world_size * B, ...)``, this rank's slice at ``rank * B``.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather
    return torch.cat(all_gather(x), dim=0)


def init_dist(launcher: str, backend: Optional[str] = None, **kwargs) -> str:
    """Initialise ``torch.distributed`` for an MMEngine launcher on GPU and CPU-only machines alike.

    With CUDA this is ``mmengine.dist.init_dist`` with the configured backend (default nccl).
    Without CUDA, MMEngine's ``pytorch`` and ``slurm`` launchers would call
    ``torch.cuda.set_device`` and fail, so the process group is created here with gloo from the
    same environment (torchrun's ``RANK`` / ``WORLD_SIZE`` / ``MASTER_*``, or Slurm's
    ``SLURM_PROCID`` / ``SLURM_NTASKS`` / ``SLURM_LOCALID`` / ``SLURM_NODELIST``).  The runner then
    finds the group initialised and keeps it.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'`` (MMEngine's names).
        backend (str, optional): ``env_cfg.dist_cfg.backend``; ignored without CUDA.
        **kwargs: the rest of ``env_cfg.dist_cfg`` (e.g. ``timeout``, ``port`` for slurm).

    Returns:
        str: the backend in use.
    """
    from mmengine.dist import init_dist as mmengine_init_dist
    if torch.cuda.is_available():
        backend = backend or 'nccl'
        mmengine_init_dist(launcher, backend=backend, **kwargs)
        return backend
    if launcher == 'slurm':
        port = kwargs.pop('port', None)
        node_list = os.environ['SLURM_NODELIST']
        addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
        os.environ.setdefault('MASTER_ADDR', addr)
        os.environ['MASTER_PORT'] = str(port or os.environ.get('MASTER_PORT', 29500))
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    elif launcher != 'pytorch':
        raise RuntimeError(f'--launcher {launcher} needs CUDA here; on CPU-only machines use '
                           '--launcher pytorch (tools/dist_train.sh) or slurm')
    dist.init_process_group(backend='gloo', **kwargs)
    return 'gloo'


def loss_normaliser(count: Tensor, sync: bool) -> Tensor:
    """A loss normaliser (number of positives, sum of weights), averaged over ranks if ``sync``.

    DETR / DINO divide each rank's summed loss by the mean over ranks of this count
    (``reduce_mean``), so that after DDP averages the gradients every positive in the global batch
    weighs the same.  That all-reduce is entered inside the loss, i.e. only by the ranks that
    compute this loss.  Under unmixed sampling every rank trains the same task and DINO's
    semantics are kept (``sync=True``, the default of ``sync_cls_avg_factor``).  Under mixed
    sampling the ranks of other tasks never arrive (NCCL hangs, gloo reports a mismatch), and they
    cannot join with a zero either, because they are elsewhere in their own forward pass; the
    count is then this rank's own (``sync=False``): each rank's loss is its local mean, the
    average of which DDP takes — the same as DINO's when ranks hold equally many positives, and
    per-rank rather than per-positive weighting otherwise.

    Args:
        count (Tensor): this rank's count (any shape; typically a scalar).
        sync (bool): average over ranks (``mmdet.utils.reduce_mean``).
    """
    if not sync:
        return count
    from mmdet.utils import reduce_mean
    return reduce_mean(count)
