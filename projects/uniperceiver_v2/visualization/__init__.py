"""Registered components; each submodule is imported here so that importing the package registers it."""
from .multi_task_visualization_hook import MultiTaskVisualizationHook
from .upv2_visualizer import UniPerceiverV2Visualizer

__all__ = ['MultiTaskVisualizationHook', 'UniPerceiverV2Visualizer']
