"""Task-specific baselines built from the plugin's parts (the specialists of the generalist-vs-specialists grid); configs load it with
``custom_imports=dict(imports=['uniperceiver_v2', 'experiments.generalist_vs_specialists.specialists'])``
and the repository on ``PYTHONPATH``."""
from .class_aware_maskdino_head import ClassAwareMaskDINOHead  # noqa: F401
