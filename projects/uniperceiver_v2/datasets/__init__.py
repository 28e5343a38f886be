"""Registered components; each submodule is imported here so that importing the package registers it."""
from .class_agnostic_coco import ClassAgnosticCocoDataset  # noqa: F401,E402
from . import text_corpus  # noqa: F401
from .resumable_infinite_sampler import ResumableInfiniteSampler  # noqa: F401,E402
from .resumable_batch_sampler import ResumableBatchSampler  # noqa: F401,E402
