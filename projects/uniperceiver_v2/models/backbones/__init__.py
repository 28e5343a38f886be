"""Backbones not in mmdet / mmpretrain (one per file)."""
from .torchvision_mobilenet_v2 import TorchvisionMobileNetV2  # noqa: F401
