"""TBGN under automatic mixed precision (fp16 with loss scaling, or bf16)."""
from contextlib import contextmanager
from typing import Mapping, Optional, Union

import torch
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch import Tensor, nn
from torch.optim import Optimizer

from .tbgn import TBGNOptimWrapper


@OPTIM_WRAPPERS.register_module()
class AmpTBGNOptimWrapper(TBGNOptimWrapper):
    """:class:`TBGNOptimWrapper` with autocast and (for fp16) dynamic loss scaling.

    ``backward`` scales the loss; ``step`` unscales the gradients (``GradScaler.unscale_``, in
    place: with fp16 loss scaling ``p.grad`` holds the true gradient afterwards, as with torch AMP),
    then takes the TBGN step on them - the norm is computed after unscaling, as the paper
    requires - and lets the scaler adapt its scale.  An overflow gives a non-finite norm,
    so the step is skipped (weights and moments untouched) and the scale is lowered.  With bf16
    no loss scaling is needed and none is done.  ``TBGNOptimWrapperConstructor`` maps mmdet's
    ``--amp`` switch (``type='AmpOptimWrapper'``) onto this class.

    Args:
        optimizer (TBGN | torch.optim.AdamW): see :class:`TBGNOptimWrapper`.
        loss_scale (str | float | dict | None): ``'dynamic'``, a static scale, ``GradScaler``
            kwargs, or ``None`` (no loss scaling).  Ignored (no scaling) for bf16.
        dtype (str | torch.dtype, optional): autocast dtype: ``'float16'``/``'bfloat16'``;
            default float16 on CUDA, bfloat16 on CPU (the only CPU autocast dtype).
        **kwargs: ``task_weights``, ... of :class:`TBGNOptimWrapper`.
    """
    valid_dtypes = ('float16', 'bfloat16', 'float32', 'float64')

    def __init__(self,
                 optimizer: Optimizer,
                 loss_scale: Union[str, float, Mapping, None] = 'dynamic',
                 dtype: Union[str, torch.dtype, None] = None,
                 **kwargs) -> None:
        super().__init__(optimizer, **kwargs)
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'optim_wrapper.dtype must be one of {self.valid_dtypes}, '
                                 f'got {dtype!r}')
            dtype = getattr(torch, dtype)
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f'optim_wrapper.dtype must be a str or torch.dtype, got {dtype!r}')
        first = next((p for g in optimizer.param_groups for p in g['params']), None)
        self.device_type = first.device.type if first is not None else 'cpu'
        if dtype is None:
            dtype = torch.float16 if self.device_type == 'cuda' else torch.bfloat16
        self.cast_dtype = dtype
        self._scale_update_param = None
        use_scaler = loss_scale is not None and dtype == torch.float16
        if not use_scaler:
            scaler_kwargs = dict(enabled=False)
        elif loss_scale == 'dynamic':
            scaler_kwargs = {}
        elif isinstance(loss_scale, (int, float)):
            self._scale_update_param = float(loss_scale)
            scaler_kwargs = dict(init_scale=float(loss_scale))
        elif isinstance(loss_scale, Mapping):
            scaler_kwargs = dict(loss_scale)
        else:
            raise TypeError('optim_wrapper.loss_scale must be "dynamic", a float, a dict or None, '
                            f'got {loss_scale!r}')
        self.loss_scaler = torch.amp.GradScaler(self.device_type, **scaler_kwargs)

    def backward(self, loss: Tensor, **kwargs) -> None:
        """Backward of the scaled loss."""
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, task: Optional[str] = None, **kwargs) -> None:
        """Unscale, TBGN step on the true gradients (skipped on overflow), update the scale.

        Args:
            task (str): the task of these gradients.
        """
        self._check_ready(task, kwargs)
        if self.loss_scaler.is_enabled():
            self.loss_scaler.unscale_(self.optimizer)
        self.tbgn_step(task)
        if self.loss_scaler.is_enabled():
            self.loss_scaler.update(self._scale_update_param)

    def state_dict(self) -> dict:
        """TBGN state plus ``'loss_scaler'``."""
        state_dict = super().state_dict()
        state_dict['loss_scaler'] = self.loss_scaler.state_dict()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Inverse of :meth:`state_dict`."""
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state and self.loss_scaler.is_enabled():
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Autocast to :attr:`cast_dtype` on :attr:`device_type`."""
        with super().optim_context(model), autocast(device_type=self.device_type,
                                                    dtype=self.cast_dtype):
            yield
