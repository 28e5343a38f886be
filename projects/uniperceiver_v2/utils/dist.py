"""Distributed helpers shared by model and engine code."""
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
