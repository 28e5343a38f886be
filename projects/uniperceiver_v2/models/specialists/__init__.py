"""Task-specific baselines built from the plugin's parts (the specialists of issue 11's grid)."""
from .class_aware_maskdino_head import ClassAwareMaskDINOHead  # noqa: F401
