"""The RefCOCO on-disk format (``refer`` toolkit, lichengunc/refer) for the synthetic scenes.

Real RefCOCO / RefCOCO+ / RefCOCOg: ``<dataset>/instances.json`` (COCO instances of the
referred images, all splits in one file) and ``<dataset>/refs(<splitBy>).p`` (a pickled list of
refs: ``ref_id``, ``ann_id``, ``image_id``, ``split``, ``category_id``, ``file_name``,
``sent_ids`` and ``sentences`` with ``raw`` / ``sent`` / ``tokens`` / ``sent_id``), read by
mmpretrain ``RefCOCO`` (one sample per sentence, ``gt_bboxes`` + ``text``) and mmdet
``RefCocoDataset``.  Here the images' ``file_name`` includes the split folder
(``train/synthetic_train_....png``), so one ``data_prefix`` (the data root) serves all splits.
"""
import pickle
from typing import Dict, List, Sequence

from .categories import CATEGORIES
from .writers import dump_json


class RefCocoWriter:
    """Collects the images, instances and refs of every split and writes the two files."""

    def __init__(self) -> None:
        self.images: List[dict] = []
        self.annotations: List[dict] = []
        self.refs: List[dict] = []

    def add(self, split: str, image: dict, instances: Sequence[dict],
            expressions: Sequence[Sequence[str]]) -> None:
        """Add one image.

        Args:
            split (str): The ref split (``'train'``, ``'val'``, ``'test'``).
            image (dict): The COCO image record (``file_name`` relative to the data root).
            instances (Sequence[dict]): The COCO annotations of its objects.
            expressions (Sequence[Sequence[str]]): Expressions of each object (same order).
        """
        self.images.append(image)
        self.annotations.extend(instances)
        for ann, texts in zip(instances, expressions):
            if not texts:
                continue
            ref_id = ann['id']  # one ref per referred object: its annotation id
            sentences = [dict(raw=t, sent=t, tokens=t.split(' '), sent_id=ref_id * 10 + s)
                         for s, t in enumerate(texts)]
            self.refs.append(dict(
                ref_id=ref_id, ann_id=ann['id'], image_id=image['id'], split=split,
                category_id=ann['category_id'], file_name=image['file_name'],
                sent_ids=[s['sent_id'] for s in sentences], sentences=sentences))

    def write(self, paths: Dict[str, str]) -> None:
        """Write ``instances`` (JSON) and ``refs`` (pickle protocol 4, fixed bytes)."""
        dump_json(dict(images=self.images, annotations=self.annotations,
                       categories=list(CATEGORIES)), paths['instances'])
        with open(paths['refs'], 'wb') as f:
            pickle.dump(self.refs, f, protocol=4)
