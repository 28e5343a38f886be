"""High-level inference API."""
from .inferencer import UniPerceiverV2Inferencer

__all__ = ['UniPerceiverV2Inferencer']
