"""The on-disk formats of the synthetic scenes, each read by an unmodified OpenMMLab dataset:

* COCO instances (``annotations/instances_<split>.json``) -> mmdet ``CocoDataset``,
  ``CocoMetric(metric=['bbox', 'segm'])``; masks as COCO RLE.
* Karpathy caption list (``annotations/coco_karpathy_<split>.json``) -> mmpretrain
  ``COCOCaption`` (train: one entry per caption; val/test: one entry per image with its captions).
* COCO captions with ``coco_url`` (``annotations/coco_karpathy_<split>_gt.json``) -> mmpretrain
  ``COCORetrieval`` and the caption metric's ground truth.
* ImageNet list (``meta/<split>.txt``, ``"<file name> <label>"``) and ``meta/classes.txt`` ->
  mmpretrain ``ImageNet`` / ``CustomDataset``.
"""
import json
from typing import Dict, List

from .categories import CATEGORIES, GENERATOR_VERSION
from .scene import Scene


class SplitWriter:
    """Collects the records of one split, image by image, and writes the four files.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'``.
    """

    def __init__(self, split: str) -> None:
        self.split = split
        self.images: List[dict] = []
        self.instances: List[dict] = []
        self.captions: List[dict] = []
        self.karpathy: List[dict] = []
        self.labels: List[str] = []

    def add(self, image_id: int, file_name: str, image_size: int, scene: Scene) -> None:
        """Add the records of one image (its id, file name under ``<split>/`` and annotations)."""
        self.images.append(dict(id=image_id, file_name=file_name, height=image_size,
                                width=image_size, coco_url=f'synthetic/{self.split}/{file_name}'))
        self.instances.extend(instance_records(image_id, scene))
        for c, caption in enumerate(scene.captions):
            self.captions.append(dict(id=image_id * 10 + c, image_id=image_id, caption=caption))
        relative, key = f'{self.split}/{file_name}', f'synthetic_{image_id}'
        if self.split == 'train':
            self.karpathy.extend(dict(image=relative, caption=caption, image_id=key)
                                 for caption in scene.captions)
        else:
            self.karpathy.append(dict(image=relative, caption=list(scene.captions), image_id=key))
        self.labels.append(f'{file_name} {scene.label}\n')

    def write(self, paths: Dict[str, str]) -> None:
        """Write ``instances``, ``captions``, ``karpathy`` and ``imagenet_ann`` to ``paths``."""
        dump_json(dict(info=self._info('instances'), licenses=[], images=self.images,
                       annotations=self.instances, categories=list(CATEGORIES)),
                  paths['instances'])
        dump_json(dict(info=self._info('captions'), licenses=[], images=self.images,
                       annotations=self.captions, type='captions'), paths['captions'])
        dump_json(self.karpathy, paths['karpathy'])
        with open(paths['imagenet_ann'], 'w', encoding='utf-8') as f:
            f.write(''.join(self.labels))

    def _info(self, kind: str) -> dict:
        return dict(description=f'Uni-Perceiver v2 synthetic scenes, {self.split} split, {kind}',
                    version=str(GENERATOR_VERSION))


def instance_records(image_id: int, scene: Scene) -> List[dict]:
    """The COCO annotations of a scene's objects (ids ``image_id * 10 + k``, masks as RLE)."""
    return [dict(id=image_id * 10 + k, image_id=image_id, category_id=obj.label + 1,
                 bbox=obj.bbox, area=float(obj.area), iscrowd=0, segmentation=obj.segmentation)
            for k, obj in enumerate(scene.objects)]


def dump_json(obj: object, path: str) -> None:
    """Compact JSON with sorted keys (byte-identical for equal content)."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, sort_keys=True, separators=(',', ':'))
