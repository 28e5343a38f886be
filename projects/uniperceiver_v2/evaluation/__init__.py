"""Registered components; each submodule is imported here so that importing the package registers it."""
from .caption_metric import CaptionMetric  # noqa: F401
from .class_agnostic_coco_metric import ClassAgnosticCocoMetric  # noqa: F401,E402
from .detection_decomposition_metric import DetectionDecompositionMetric  # noqa: F401
from .bidirectional_retrieval_recall import BidirectionalRetrievalRecall  # noqa: F401
