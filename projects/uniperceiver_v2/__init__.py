"""Uni-Perceiver v2 for OpenMMLab.  ``import uniperceiver_v2`` registers every component.

Importing changes nothing else in the process; programs that resume or write checkpoints with
MMEngine's ``Runner`` call :func:`uniperceiver_v2.utils.apply_compat` once (``tools/train.py`` and
``tools/test.py`` do).
"""
from . import apis, datasets, engine, evaluation, models, visualization  # noqa: F401  (registration)
from .version import __version__

__all__ = ['__version__']
