"""``DefaultOptimWrapperConstructor`` with a weight-decay exclusion that custom keys cannot undo."""
from typing import Callable, List, Optional, Sequence

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

#: options of ``paramwise_cfg.no_decay``
NO_DECAY_OPTIONS = ('max_ndim', 'embeddings', 'keys')


class NoDecayRule:
    """Which parameters get no weight decay.

    A parameter gets none when it has at most ``max_ndim`` dimensions (biases, norm weights,
    scalars such as temperatures and logit biases, 1-D learned tokens), when it is the table of
    an ``nn.Embedding`` (with ``embeddings=True``), or when its full name contains one of
    ``keys`` (learned queries, positional tables, stacked expert biases).

    Args:
        max_ndim (int): parameters with ``ndim <= max_ndim`` get no decay (``-1``: none by
            shape).  Default: 1.
        embeddings (bool): ``nn.Embedding`` tables get no decay.  Default: True.
        keys (Sequence[str]): substrings of full parameter names that get no decay.
    """

    def __init__(self, max_ndim: int = 1, embeddings: bool = True,
                 keys: Sequence[str] = ()) -> None:
        if isinstance(keys, str):
            raise TypeError(f'paramwise_cfg.no_decay.keys must be a list of name substrings, '
                            f'got the string {keys!r}')
        self.max_ndim = int(max_ndim)
        self.embeddings = bool(embeddings)
        self.keys = tuple(keys)

    def __call__(self, name: str, param: nn.Parameter, module: nn.Module) -> bool:
        """Whether ``param`` (called ``name``, owned directly by ``module``) gets no decay."""
        return (param.ndim <= self.max_ndim
                or (self.embeddings and isinstance(module, nn.Embedding))
                or any(key in name for key in self.keys))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class NoDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMEngine's ``DefaultOptimWrapperConstructor`` plus ``paramwise_cfg.no_decay``.

    In MMEngine a parameter that matches a ``custom_keys`` entry ignores ``norm_decay_mult``,
    ``bias_decay_mult`` and ``flat_decay_mult``: with ``'text_encoder.model': dict(lr_mult=0.1)``
    every LayerNorm and bias of the text encoder decays at the full rate, and scalars
    (``ndim == 0``, e.g. temperatures) are never "flat".  ``no_decay`` is applied after all of
    MMEngine's rules, on top of them: the parameters it selects (see :class:`NoDecayRule`) get
    ``weight_decay=0`` and keep every other setting, ``lr_mult`` of a custom key included.
    Without ``no_decay`` this constructor is MMEngine's default.

    Example::

        optim_wrapper = dict(
            constructor='NoDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.2),
            paramwise_cfg=dict(
                custom_keys={'text_encoder.model': dict(lr_mult=0.1)},
                no_decay=dict(max_ndim=1, embeddings=True, keys=['pool_queries'])))

    Args:
        optim_wrapper_cfg (dict): ``optim_wrapper`` without ``constructor``/``paramwise_cfg``.
        paramwise_cfg (dict, optional): as in ``DefaultOptimWrapperConstructor``, plus
            ``no_decay`` (dict of :class:`NoDecayRule` arguments).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        no_decay = self.paramwise_cfg.get('no_decay')
        self.no_decay: Optional[Callable[[str, nn.Parameter, nn.Module], bool]] = None
        if no_decay is not None:
            unknown = sorted(set(no_decay) - set(NO_DECAY_OPTIONS))
            if unknown:
                raise KeyError(f'paramwise_cfg.no_decay: unknown option(s) {unknown}; '
                               f'known: {list(NO_DECAY_OPTIONS)}')
            if self.base_wd is None:
                raise ValueError('paramwise_cfg.no_decay needs optim_wrapper.optimizer.'
                                 'weight_decay to be set')
            self.no_decay = NoDecayRule(**no_decay)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[float] = None) -> None:
        """MMEngine's ``add_params``; at the top level (the model) ``no_decay`` is applied.

        Args:
            params (list[dict]): param groups, extended in place.
            module (nn.Module): the module whose parameters are added.
            prefix (str): the module's name ('' for the model).
            is_dcn_module (float, optional): as in MMEngine.
        """
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix or self.no_decay is None:
            return
        owner = {id(p): (f'{name}.{pname}' if name else pname, m)
                 for name, m in module.named_modules()
                 for pname, p in m.named_parameters(recurse=False)}
        excluded = 0
        for group in params:
            for param in group['params']:
                name, mod = owner[id(param)]
                if self.no_decay(name, param, mod):
                    group['weight_decay'] = 0.0
                    excluded += 1
        print_log(f'paramwise_cfg.no_decay: {excluded} parameter tensors without weight decay',
                  logger='current')
