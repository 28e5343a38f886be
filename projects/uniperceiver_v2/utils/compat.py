"""The one place where the plugin adapts the 2024 OpenMMLab stack to the current torch.

Shims:

* ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, but mmengine 0.10.7 calls it
  without the argument, so resuming from mmengine's own checkpoints fails on the non-tensor objects
  they hold (the MessageHub's ``HistoryBuffer`` and the numpy arrays inside it).  We allow-list
  exactly those globals with ``torch.serialization.add_safe_globals`` instead of switching the safe
  loader off.
* mmengine's ``LocalBackend.put`` (which writes every checkpoint) opens the target file and writes
  into it, so a Ctrl-C or kill during the write leaves a truncated ``.pth`` that fails to load (and
  ``last_checkpoint`` may already point at it on the next save).  We make local writes atomic: the
  bytes go to a temporary file in the same folder, which then replaces the target with
  ``os.replace``.  A checkpoint file therefore either exists whole or not at all.

:func:`apply_compat` installs both for the whole process.  Importing ``uniperceiver_v2`` does not
call it: the entry points do (``tools/train.py``, ``tools/test.py``), and so must any program of
your own that resumes or writes checkpoints with MMEngine's ``Runner`` (e.g. one that loads the
plugin through ``custom_imports``)::

    from uniperceiver_v2.utils import apply_compat
    apply_compat()                      # before Runner.from_cfg(cfg).train()

The plugin's own checkpoint readers (the stage-1 proposal checkpoint of ``ImageEncoder``, the
inferencer) do not depend on it: they load inside :func:`checkpoint_safe_globals`, which allow-lists
the same globals for the duration of one load only.
"""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Union

import numpy as np
import torch


def history_buffer_statistic(owner: object, name: str):
    """Stands in for ``getattr`` while a checkpoint is safe-loaded, and resolves nothing else.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods (``min``, ``max``, ``current``,
    ``mean`` and any registered with ``HistoryBuffer.register_statistics``) as
    ``getattr(HistoryBuffer, name)``.  Allow-listing the real builtin ``getattr`` would let a crafted
    checkpoint reach any attribute of any allowed class (``ndarray.tofile`` writes files), so this
    function is registered under the name ``builtins.getattr`` and only answers for those methods.

    Raises:
        pickle.UnpicklingError: for any other owner or attribute name.
    """
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = set(HistoryBuffer._statistics_methods) | {'min', 'max', 'current', 'mean'}
    if owner is not HistoryBuffer or name not in allowed:
        raise pickle.UnpicklingError(
            f'refusing getattr({owner!r}, {name!r}) while safe-loading a checkpoint: only '
            f'HistoryBuffer statistics methods {sorted(allowed)} are allow-listed')
    return getattr(HistoryBuffer, name)


def mmengine_checkpoint_globals() -> List[object]:
    """The non-tensor globals pickled into an mmengine 0.10.7 checkpoint.

    ``message_hub`` state holds ``HistoryBuffer`` objects whose data are numpy arrays (and numpy
    scalars for ``_statistics_methods`` results); numpy pickles arrays with ``_reconstruct``, the
    ``ndarray`` type, a ``dtype`` object of a concrete dtype class (torch already allows ``_codecs.encode``
    for the raw bytes); the buffer's statistics methods are pickled as ``getattr(HistoryBuffer, name)``, served by
    :func:`history_buffer_statistic`.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = getattr(np, '_core', np.core).multiarray
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_)]
    return [
        HistoryBuffer,
        (history_buffer_statistic, 'builtins.getattr'),
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def atomic_put(self, obj: bytes, filepath: Union[str, Path]) -> None:
    """``LocalBackend.put`` that never leaves a partially written file behind.

    Args:
        obj (bytes): data to write.
        filepath (str | Path): destination; its folder is created if missing.
    """
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(filepath) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


@contextmanager
def checkpoint_safe_globals() -> Iterator[None]:
    """Allow-list :func:`mmengine_checkpoint_globals` for ``torch.load`` inside the block only.

    For code that reads an mmengine checkpoint itself (``CheckpointLoader.load_checkpoint``,
    ``mmengine.runner.load_checkpoint``) without relying on :func:`apply_compat`.
    """
    safe_globals = getattr(torch.serialization, 'safe_globals', None)  # torch >= 2.5
    if safe_globals is None:  # older torch: no allow-list, and torch.load is not safe by default
        yield
        return
    # torch's context manager removes on exit every global it was given, also those allowed
    # before (by apply_compat): give it only the missing ones
    allowed = torch.serialization.get_safe_globals()
    missing = [g for g in mmengine_checkpoint_globals() if g not in allowed]
    if not missing:
        yield
        return
    with safe_globals(missing):
        yield


def apply_compat() -> None:
    """Install every shim of this module for the whole process (safe to call many times).

    Call it once at the start of a program that trains, resumes or tests with MMEngine's
    ``Runner`` (the plugin's ``tools/train.py`` and ``tools/test.py`` do); see the module
    docstring.
    """
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
        torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    from mmengine.fileio.backends import LocalBackend
    LocalBackend.put = atomic_put
