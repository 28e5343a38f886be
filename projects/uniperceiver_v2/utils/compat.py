"""The one place where the plugin adapts the 2024 OpenMMLab stack to the current torch.

Shims (each listed in ``shared/design/environment.md``):

* ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, but mmengine 0.10.7 calls it
  without the argument, so resuming from mmengine's own checkpoints fails on the non-tensor objects
  they hold (the MessageHub's ``HistoryBuffer`` and the numpy arrays inside it).  We allow-list
  exactly those globals with ``torch.serialization.add_safe_globals`` instead of switching the safe
  loader off.

:func:`apply_compat` is idempotent and is called when ``uniperceiver_v2`` is imported.
"""
from typing import List

import numpy as np
import torch


def mmengine_checkpoint_globals() -> List[object]:
    """The non-tensor globals pickled into an mmengine 0.10.7 checkpoint.

    ``message_hub`` state holds ``HistoryBuffer`` objects whose data are numpy arrays (and numpy
    scalars for ``_statistics_methods`` results); numpy pickles arrays with ``_reconstruct``, the
    ``ndarray`` type and a ``dtype`` object of a concrete dtype class.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = getattr(np, '_core', np.core).multiarray
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_)]
    return [
        HistoryBuffer,
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def apply_compat() -> None:
    """Install every shim of this module (safe to call many times)."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
