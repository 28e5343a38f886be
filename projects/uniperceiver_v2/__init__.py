"""Uni-Perceiver v2 for OpenMMLab.  ``import uniperceiver_v2`` registers every component."""
from .utils import apply_compat

apply_compat()

from . import apis, datasets, engine, evaluation, models, visualization  # noqa: E402,F401  (registration)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
