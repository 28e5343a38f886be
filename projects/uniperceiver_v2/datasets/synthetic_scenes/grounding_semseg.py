"""Referring expressions (RefCOCO format) and semantic label maps (mmseg layout) of the synthetic
scenes, written beside the files of :func:`generate_synthetic_scenes` without touching them.

:class:`GroundingSemsegWriter` takes each scene as it is rendered
(``generate_synthetic_scenes(..., on_scene=writer.add)``: one render per image for all the files);
:func:`generate_grounding_and_semseg` renders the scenes again (``render_scene`` is
deterministic), so the new files can be added to an existing ``data/synthetic``.  The expressions
are drawn from a separate stream ``(seed, split, index, 1)``, so the images, instances and
captions stay byte-identical.  Layout (under ``out_dir``)::

    refcoco/instances.json          COCO instances of all splits (file_name = <split>/<image>)
    refcoco/refs(synthetic).p       refs, split = train / val / test (mmpretrain RefCOCO)
    semseg/<split>/<image>.png      uint8 label maps: class index of the visible object,
                                    255 = background (ignored); images are <split>/<image>.png
"""
import os
import os.path as osp
from typing import Callable, Dict, Optional

import numpy as np
from PIL import Image

from .categories import SPLITS, image_name
from .generate import _check_count, _prepare_dir
from .referring import EXPRESSIONS_PER_OBJECT, referring_expressions
from .refcoco_writer import RefCocoWriter
from .scene import Scene, render_scene
from .writers import instance_records

#: label value of pixels no object covers
IGNORE_INDEX = 255
REFS_FILE = 'refs(synthetic).p'


def semantic_label_map(scene: Scene) -> np.ndarray:
    """``(H, W)`` uint8 map: the class of the object painted at each pixel, 255 elsewhere."""
    label_map = np.full(scene.image.shape[:2], IGNORE_INDEX, np.uint8)
    for obj in scene.objects:  # back to front: masks are the visible pixels, disjoint
        label_map[obj.mask] = obj.label
    return label_map


class GroundingSemsegWriter:
    """Writes the label map and collects the referring expressions of each scene it is given.

    Args:
        out_dir (str): The data root (``refcoco/`` and ``semseg/<split>/`` are created in it).
        image_size (int): Image side length in pixels (the scenes').
        seed (int): The scenes' seed (the expressions' stream is ``(seed, split, index, 1)``).
        per_object (int): Expressions per object (at most; fewer when fewer are unambiguous).
    """

    def __init__(self, out_dir: str, image_size: int, seed: int,
                 per_object: int = EXPRESSIONS_PER_OBJECT) -> None:
        self.out_dir = os.fspath(out_dir)
        self.image_size, self.seed, self.per_object = int(image_size), int(seed), int(per_object)
        self.refs = RefCocoWriter()
        self.semseg_dirs: Dict[str, str] = {}

    def add(self, split: str, index: int, scene: Scene) -> None:
        """Write the label map of image ``index`` of ``split`` and collect its expressions."""
        if split not in self.semseg_dirs:
            self.semseg_dirs[split] = osp.join(self.out_dir, 'semseg', split)
            _prepare_dir(self.semseg_dirs[split])
        image_id, file_name = image_name(split, index)
        Image.fromarray(semantic_label_map(scene)).save(
            osp.join(self.semseg_dirs[split], file_name), format='PNG', compress_level=6)
        rng = np.random.default_rng([self.seed, SPLITS.index(split), index, 1])
        expressions = referring_expressions(scene.objects, self.image_size, rng, self.per_object)
        image = dict(id=image_id, file_name=f'{split}/{file_name}', height=self.image_size,
                     width=self.image_size)
        self.refs.add(split, image, instance_records(image_id, scene), expressions)

    def write(self) -> dict:
        """Write the RefCOCO files; returns ``refcoco`` (``instances``, ``refs`` paths,
        ``num_refs``, ``num_sentences``) and per split ``semseg_dir``."""
        ref_dir = osp.join(self.out_dir, 'refcoco')
        _prepare_dir(ref_dir)
        paths = dict(instances=osp.join(ref_dir, 'instances.json'),
                     refs=osp.join(ref_dir, REFS_FILE))
        self.refs.write(paths)
        written: dict = {split: dict(semseg_dir=d) for split, d in self.semseg_dirs.items()}
        written['refcoco'] = dict(paths, num_refs=len(self.refs.refs),
                                  num_sentences=sum(len(r['sentences']) for r in self.refs.refs))
        return written


def generate_grounding_and_semseg(out_dir: str,
                                  num_train: int = 2000,
                                  num_val: int = 200,
                                  num_test: int = 200,
                                  image_size: int = 128,
                                  seed: int = 0,
                                  per_object: int = EXPRESSIONS_PER_OBJECT,
                                  progress: Optional[Callable[[str, int, int], None]] = None
                                  ) -> dict:
    """Render the scenes again and write their RefCOCO files and semantic label maps under
    ``out_dir`` (beside the files of :func:`generate_synthetic_scenes` with the same arguments).

    Args:
        out_dir (str): The data root of :func:`generate_synthetic_scenes` (same arguments).
        num_train (int): Number of training images (>= 1).
        num_val (int): Number of validation images (>= 1).
        num_test (int): Number of test images (>= 1).
        image_size (int): Image side length in pixels.
        seed (int): Non-negative seed; same arguments give byte-identical files.
        per_object (int): Expressions per object (at most; fewer when fewer are unambiguous).
        progress (callable, optional): Called as ``progress(split, done, total)`` after each image.

    Returns:
        dict: see :meth:`GroundingSemsegWriter.write`.
    """
    sizes = dict(train=num_train, val=num_val, test=num_test)
    for split, count in sizes.items():
        _check_count(f'num_{split}', count, 1)
    _check_count('image_size', image_size, 32)
    _check_count('seed', seed, 0)
    _check_count('per_object', per_object, 1)
    writer = GroundingSemsegWriter(out_dir, image_size, seed, per_object)
    for split in SPLITS:
        for index in range(sizes[split]):
            writer.add(split, index, render_scene(int(seed), split, index, int(image_size)))
            if progress is not None:
                progress(split, index + 1, sizes[split])
    return writer.write()
