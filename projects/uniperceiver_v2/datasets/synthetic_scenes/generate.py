"""Generate the synthetic multi-task dataset: every split rendered and written in the real
formats."""
import os
import os.path as osp
from typing import Callable, Optional

import numpy as np
from PIL import Image

from .categories import (CLASSES, GENERATOR_VERSION, MAX_SPLIT_SIZE, MIN_IMAGE_SIZE,
                         SPLITS, image_name)
from .scene import Scene, render_scene
from .writers import SplitWriter, dump_json


def _check_count(name: str, value: int, minimum: int, maximum: Optional[int] = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'generate_synthetic_scenes: {name} must be an integer, got {value!r}')
    if value < minimum or (maximum is not None and value > maximum):
        bound = f'>= {minimum}' if maximum is None else f'in [{minimum}, {maximum}]'
        raise ValueError(f'generate_synthetic_scenes: {name} must be {bound}, got {value}')


def _prepare_dir(path: str) -> None:
    if osp.exists(path) and not osp.isdir(path):
        raise NotADirectoryError(f'generate_synthetic_scenes: output path {path!r} exists and is '
                                 'not a directory')
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise OSError(err.errno, f'generate_synthetic_scenes: cannot create output folder '
                      f'{path!r}: {err.strerror}') from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f'generate_synthetic_scenes: output folder {path!r} is not writable')


def generate_synthetic_scenes(out_dir: str,
                              num_train: int = 2000,
                              num_val: int = 200,
                              num_test: int = 200,
                              image_size: int = 128,
                              seed: int = 0,
                              progress: Optional[Callable[[str, int, int], None]] = None,
                              on_scene: Optional[Callable[[str, int, Scene], None]] = None
                              ) -> dict:
    """Generate the synthetic multi-task dataset under ``out_dir``.

    Layout::

        out_dir/
          train/ val/ test/            synthetic_<split>_<12-digit image id>.png
          annotations/
            instances_<split>.json     COCO instances (mmdet CocoDataset, CocoMetric)
            coco_karpathy_<split>.json Karpathy captions (mmpretrain COCOCaption)
            coco_karpathy_<split>_gt.json  COCO captions (COCORetrieval, caption metric GT)
          meta/
            <split>.txt                "<file name> <label>", relative to <split>/ (ImageNet)
            classes.txt                one class name per line
            generation.json            the generator version and arguments

    Args:
        out_dir (str): Output folder (created if missing).
        num_train (int): Number of training images (>= 1).
        num_val (int): Number of validation images (>= 1).
        num_test (int): Number of test images (>= 1).
        image_size (int): Image side length in pixels (>= ``MIN_IMAGE_SIZE``).
        seed (int): Non-negative seed; same arguments give byte-identical files.
        progress (callable, optional): Called as ``progress(split, done, total)`` after each image.
        on_scene (callable, optional): Called as ``on_scene(split, index, scene)`` with each
            rendered :class:`Scene` (e.g. ``GroundingSemsegWriter.add``: more files from the
            same renders).

    Returns:
        dict: ``data_root``, ``classes_file``, ``generation_file`` and, per split name, a dict with
        ``img_dir``, ``instances``, ``karpathy``, ``captions``, ``imagenet_ann`` (paths) and
        ``num_images``.
    """
    sizes = dict(train=num_train, val=num_val, test=num_test)
    for split, count in sizes.items():
        _check_count(f'num_{split}', count, 1, MAX_SPLIT_SIZE)
    _check_count('image_size', image_size, MIN_IMAGE_SIZE)
    _check_count('seed', seed, 0)
    out_dir = os.fspath(out_dir)
    ann_dir, meta_dir = osp.join(out_dir, 'annotations'), osp.join(out_dir, 'meta')
    for folder in (out_dir, ann_dir, meta_dir, *(osp.join(out_dir, s) for s in SPLITS)):
        _prepare_dir(folder)

    written: dict = dict(data_root=out_dir)
    for split in SPLITS:
        written[split] = _write_split(out_dir, split, sizes[split], int(image_size), int(seed),
                                      progress, on_scene)
    classes_file = osp.join(meta_dir, 'classes.txt')
    with open(classes_file, 'w', encoding='utf-8') as f:
        f.write(''.join(name + '\n' for name in CLASSES))
    generation_file = osp.join(meta_dir, 'generation.json')
    dump_json(
        dict(generator='synthetic_scenes (tools/data)', version=GENERATOR_VERSION,
             seed=int(seed), image_size=int(image_size), num_train=int(num_train),
             num_val=int(num_val), num_test=int(num_test), classes=list(CLASSES)), generation_file)
    written.update(classes_file=classes_file, generation_file=generation_file)
    return written


def _write_split(out_dir: str, split: str, num_images: int, image_size: int, seed: int,
                 progress: Optional[Callable[[str, int, int], None]],
                 on_scene: Optional[Callable[[str, int, Scene], None]]) -> dict:
    """Render and write one split; returns its paths (see :func:`generate_synthetic_scenes`)."""
    writer = SplitWriter(split)
    for index in range(num_images):
        image_id, file_name = image_name(split, index)
        scene = render_scene(seed, split, index, image_size)
        Image.fromarray(scene.image).save(osp.join(out_dir, split, file_name), format='PNG',
                                          compress_level=6)
        writer.add(image_id, file_name, image_size, scene)
        if on_scene is not None:
            on_scene(split, index, scene)
        if progress is not None:
            progress(split, index + 1, num_images)
    paths = dict(
        img_dir=osp.join(out_dir, split),
        instances=osp.join(out_dir, 'annotations', f'instances_{split}.json'),
        karpathy=osp.join(out_dir, 'annotations', f'coco_karpathy_{split}.json'),
        captions=osp.join(out_dir, 'annotations', f'coco_karpathy_{split}_gt.json'),
        imagenet_ann=osp.join(out_dir, 'meta', f'{split}.txt'))
    writer.write(paths)
    paths['num_images'] = num_images
    return paths
