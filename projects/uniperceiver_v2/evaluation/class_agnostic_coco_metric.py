"""``CocoMetric`` over COCO ground truth with every category merged into ``object``."""
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS

from ..datasets.class_agnostic_coco import merge_coco_categories


@METRICS.register_module()
class ClassAgnosticCocoMetric(CocoMetric):
    """mmdet ``CocoMetric`` (bbox / segm AP) for class-agnostic predictions (all labels 0).

    The annotation file's categories are merged into one ``object`` category on load, matching
    ``ClassAgnosticCocoDataset``.  Same arguments as ``CocoMetric``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._coco_api is not None:
            merge_coco_categories(self._coco_api)
