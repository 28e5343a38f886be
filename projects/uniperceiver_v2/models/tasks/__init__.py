"""Registered components; each submodule is imported here so that importing the package registers it."""
from .classification import ClassificationTask  # noqa: F401,E402
from .retrieval import RetrievalTask  # noqa: F401,E402
from .captioning import CaptioningTask  # noqa: F401,E402
from .language_modeling import LanguageModelingTask  # noqa: F401,E402
from .detection import DetectionTask  # noqa: F401,E402
from .grounding import GroundingTask  # noqa: F401,E402
from .semantic_segmentation import SemanticSegmentationTask  # noqa: F401,E402
