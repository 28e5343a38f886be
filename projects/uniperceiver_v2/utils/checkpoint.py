"""Checks that a checkpoint file belongs to the model a config builds, with errors that say why."""
import os.path as osp

import torch
from torch import nn

from .compat import checkpoint_safe_globals


def check_checkpoint_matches(checkpoint: str, model: nn.Module, min_overlap: float = 0.9) -> None:
    """Raise a clear error unless ``checkpoint`` holds weights for ``model``.

    MMEngine loads checkpoints with ``strict=False`` and only warns about missing keys, so testing a
    config with the checkpoint of another model would silently evaluate a randomly initialised
    network.  This check runs before loading.

    Args:
        checkpoint (str): path of a ``.pth`` file (an mmengine checkpoint or a bare state dict).
        model (nn.Module): the model built from the config (a DDP wrapper is unwrapped).
        min_overlap (float): fraction of the model's parameters that must be present with the same
            shape.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable checkpoint, or its weights do not fit the model.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    try:
        with checkpoint_safe_globals():  # an mmengine checkpoint holds its MessageHub state
            ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch raises many kinds for a corrupt file)
        raise ValueError(f'{checkpoint} is not a readable checkpoint ({type(e).__name__}: '
                         f'{str(e).splitlines()[0][:200]})') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{checkpoint} holds no state dict of tensors')
    model = getattr(model, 'module', model)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    if not expected:
        return
    fitting = sum(1 for k, shape in expected.items()
                  if k in state and tuple(state[k].shape) == tuple(shape))
    if fitting / len(expected) < min_overlap:
        missing = [k for k in expected if k not in state][:5]
        wrong = [f'{k}: {tuple(state[k].shape)} vs {tuple(expected[k])}' for k in expected
                 if k in state and tuple(state[k].shape) != tuple(expected[k])][:5]
        raise ValueError(
            f'{checkpoint} does not fit the model of this config ({type(model).__name__}): only '
            f'{fitting}/{len(expected)} weights match by name and shape. Missing e.g. {missing}; '
            f'wrong shape e.g. {wrong}. Is it the checkpoint of another model or config?')
