"""Optimizer-wrapper constructor that keeps TBGN when a launcher switches on AMP."""
from typing import Optional

from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .no_decay_constructor import NoDecayOptimWrapperConstructor

#: ``optim_wrapper.type`` -> TBGN wrapper that is built instead.
TBGN_TYPE_MAP = {
    None: 'TBGNOptimWrapper',
    'OptimWrapper': 'TBGNOptimWrapper',
    'TBGNOptimWrapper': 'TBGNOptimWrapper',
    'AmpOptimWrapper': 'AmpTBGNOptimWrapper',
    'AmpTBGNOptimWrapper': 'AmpTBGNOptimWrapper',
}


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TBGNOptimWrapperConstructor(NoDecayOptimWrapperConstructor):
    """``NoDecayOptimWrapperConstructor`` (MMEngine's ``paramwise_cfg`` plus ``no_decay``) that
    always builds TBGN.

    mmdet's ``tools/train.py --amp`` overwrites ``optim_wrapper.type`` with ``'AmpOptimWrapper'``
    (and sets ``loss_scale='dynamic'``) but leaves ``optim_wrapper.constructor`` alone; this
    constructor maps ``'AmpOptimWrapper'`` to :class:`AmpTBGNOptimWrapper` and ``'OptimWrapper'`` to
    :class:`TBGNOptimWrapper`, so TBGN survives the switch.  A wrapper type outside
    ``TBGN_TYPE_MAP`` is an error.

    Args:
        optim_wrapper_cfg (dict): ``optim_wrapper`` without ``constructor``/``paramwise_cfg``.
        paramwise_cfg (dict, optional): as in ``NoDecayOptimWrapperConstructor``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        optim_wrapper_cfg = dict(optim_wrapper_cfg)
        wrapper_type = optim_wrapper_cfg.get('type')
        if wrapper_type not in TBGN_TYPE_MAP:
            raise ValueError(f'optim_wrapper.type={wrapper_type!r} cannot be combined with '
                             "constructor='TBGNOptimWrapperConstructor'; use one of "
                             f'{sorted(t for t in TBGN_TYPE_MAP if t)}')
        optim_wrapper_cfg['type'] = TBGN_TYPE_MAP[wrapper_type]
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
