"""COCO instances with every category merged into one ``object`` class.

Used to train and evaluate the region proposal network as a class-agnostic detector / instance
segmenter (paper Sec. 4.1: foreground / background only) with mmdet's own dataset, pipeline and
``CocoMetric`` machinery: annotations keep their boxes and masks, only ``category_id`` changes.
"""
from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS

AGNOSTIC_CATEGORY = dict(id=1, name='object', supercategory='object')


def merge_coco_categories(coco: COCO) -> COCO:
    """Rewrite a loaded COCO api in place so that all annotations have category 1 ``object``.

    Args:
        coco (COCO): a loaded (mmdet / pycocotools) COCO api.

    Returns:
        COCO: the same object, re-indexed.
    """
    for ann in coco.dataset.get('annotations', []):
        ann['category_id'] = AGNOSTIC_CATEGORY['id']
    coco.dataset['categories'] = [dict(AGNOSTIC_CATEGORY)]
    coco.createIndex()
    return coco


class ClassAgnosticCOCO(COCO):
    """mmdet's COCO api that merges every category into ``object`` on load."""

    def __init__(self, annotation_file=None) -> None:
        super().__init__(annotation_file)
        merge_coco_categories(self)


@DATASETS.register_module()
class ClassAgnosticCocoDataset(CocoDataset):
    """``CocoDataset`` whose only class is ``object`` (label 0 for every instance).

    Same arguments as mmdet ``CocoDataset``; ``metainfo`` defaults to ``classes=('object',)``.
    Evaluate with ``ClassAgnosticCocoMetric`` so the ground truth is merged the same way.
    """
    METAINFO = dict(classes=(AGNOSTIC_CATEGORY['name'], ), palette=[(220, 20, 60)])
    COCOAPI = ClassAgnosticCOCO
