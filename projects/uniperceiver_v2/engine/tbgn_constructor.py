"""Optimizer-wrapper constructor that keeps TBGN when a launcher switches on AMP."""
from typing import Optional

from mmengine.logging import print_log
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .no_decay_constructor import NoDecayOptimWrapperConstructor

#: ``optim_wrapper.type`` -> the wrapper that is built.  ``'AmpOptimWrapper'`` is what mmdet's
#: ``tools/train.py --amp`` writes over ``'TBGNOptimWrapper'``; ``'OptimWrapper'`` is honoured.
WRAPPER_TYPES = {
    None: 'TBGNOptimWrapper',
    'TBGNOptimWrapper': 'TBGNOptimWrapper',
    'AmpTBGNOptimWrapper': 'AmpTBGNOptimWrapper',
    'AmpOptimWrapper': 'AmpTBGNOptimWrapper',
    'OptimWrapper': 'OptimWrapper',
}
#: keys only a TBGN wrapper takes
TBGN_ONLY_KEYS = ('task_weights', 'sampling_weights')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TBGNOptimWrapperConstructor(NoDecayOptimWrapperConstructor):
    """``NoDecayOptimWrapperConstructor`` (MMEngine's ``paramwise_cfg`` plus ``no_decay``) that
    keeps TBGN under AMP.

    mmdet's ``tools/train.py --amp`` overwrites ``optim_wrapper.type`` with ``'AmpOptimWrapper'``
    (and sets ``loss_scale='dynamic'``) but leaves ``optim_wrapper.constructor`` alone; this
    constructor maps ``'AmpOptimWrapper'`` to :class:`AmpTBGNOptimWrapper`, so TBGN survives the
    switch (use ``constructor='NoDecayOptimWrapperConstructor'`` for AMP without TBGN).
    ``type='OptimWrapper'`` builds MMEngine's plain ``OptimWrapper`` (no TBGN), as in any
    OpenMMLab config - e.g. a no-TBGN ablation that inherits this constructor from its base; TBGN
    settings next to it (``task_weights``) are an error naming ``optim_wrapper.type``.  Types
    outside :data:`WRAPPER_TYPES` are an error.

    Args:
        optim_wrapper_cfg (dict): ``optim_wrapper`` without ``constructor``/``paramwise_cfg``.
        paramwise_cfg (dict, optional): as in ``NoDecayOptimWrapperConstructor``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        optim_wrapper_cfg = dict(optim_wrapper_cfg)
        wrapper_type = optim_wrapper_cfg.get('type')
        if wrapper_type not in WRAPPER_TYPES:
            raise ValueError(f'optim_wrapper.type={wrapper_type!r} cannot be combined with '
                             "constructor='TBGNOptimWrapperConstructor'; use one of "
                             f'{sorted(t for t in WRAPPER_TYPES if t)}')
        built = WRAPPER_TYPES[wrapper_type]
        if built == 'OptimWrapper':
            tbgn_keys = [k for k in TBGN_ONLY_KEYS if optim_wrapper_cfg.get(k) is not None]
            if tbgn_keys:
                raise ValueError(
                    f"optim_wrapper.type='OptimWrapper' builds a plain OptimWrapper (no TBGN), "
                    f'but optim_wrapper sets the TBGN option(s) {tbgn_keys}: set '
                    f"optim_wrapper.type='TBGNOptimWrapper' for TBGN, or remove {tbgn_keys}")
            for key in TBGN_ONLY_KEYS:  # unset TBGN options (e.g. inherited task_weights=None)
                optim_wrapper_cfg.pop(key, None)
        elif wrapper_type == 'AmpOptimWrapper':
            print_log("TBGNOptimWrapperConstructor: optim_wrapper.type='AmpOptimWrapper' (as "
                      "--amp sets it) builds AmpTBGNOptimWrapper; use constructor="
                      "'NoDecayOptimWrapperConstructor' for AMP without TBGN", logger='current')
        optim_wrapper_cfg['type'] = built
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
