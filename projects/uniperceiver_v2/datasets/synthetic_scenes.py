"""Deterministic synthetic multi-task scenes, written in the real on-disk dataset formats.

The embedded default data of the project: coloured shapes on a textured, noisy background, with
boxes, polygon masks, a class label and several captions per image, written so that the unmodified
OpenMMLab dataset classes read them:

* ``annotations/instances_<split>.json``: COCO instances -> mmdet ``CocoDataset``
  (``metainfo=dict(classes=CLASSES)``), ``CocoMetric(metric=['bbox', 'segm'])``.
* ``annotations/coco_karpathy_<split>.json``: Karpathy-style caption list -> mmpretrain
  ``COCOCaption`` (train: one entry per caption; val/test: one entry per image with a caption list).
* ``annotations/coco_karpathy_<split>_gt.json``: COCO-format captions (with ``coco_url``) ->
  mmpretrain ``COCORetrieval`` and the ground truth of the ``COCOCaption`` metric.
* ``meta/<split>.txt`` (``"<file name> <label>"`` relative to ``<split>/``) and
  ``meta/classes.txt`` -> mmpretrain ``ImageNet`` / ``CustomDataset`` (``classes=<file>``).

Every image has one clearly dominant object (the largest visible one, at least
``DOMINANT_AREA_RATIO`` times larger than any other), whose category is the image's class label.
Masks follow the drawn pixels exactly: objects are painted in depth order, each object's visible
pixel set is traced along pixel edges into polygons (holes bridged into the outline), so the
polygons rasterise back to the painted pixels. Each image is generated from its own random stream
``(seed, split, index)``, so the output is byte-identical on every run and independent of the
sizes of the other splits.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image

GENERATOR_VERSION = 1

SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'hexagon')
COLOURS: Tuple[str, ...] = ('red', 'green', 'blue', 'yellow')
COLOUR_RGB: Dict[str, Tuple[int, int, int]] = {
    'red': (205, 40, 40),
    'green': (40, 165, 60),
    'blue': (40, 80, 215),
    'yellow': (230, 200, 40),
}
#: Category names, index = class label (ImageNet-style) = COCO ``category_id - 1``.
CLASSES: Tuple[str, ...] = tuple(f'{colour} {shape}' for shape in SHAPES for colour in COLOURS)
#: One RGB colour per class (the object's base colour), for visualizers.
PALETTE: Tuple[Tuple[int, int, int], ...] = tuple(
    COLOUR_RGB[name.split(' ')[0]] for name in CLASSES)
#: Dataset ``metainfo`` usable by mmdet and mmpretrain dataset configs.
METAINFO: Dict[str, tuple] = dict(classes=CLASSES, palette=PALETTE)
#: COCO ``categories`` records (ids start at 1, as in COCO).
CATEGORIES: Tuple[Dict[str, Union[int, str]], ...] = tuple(
    dict(id=i + 1, name=name, supercategory=name.split(' ')[1]) for i, name in enumerate(CLASSES))

SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
#: Image ids are ``offset + index + 1``: unique over all splits and stable when sizes change.
SPLIT_ID_OFFSETS: Dict[str, int] = {'train': 0, 'val': 10_000_000, 'test': 20_000_000}
MAX_SPLIT_SIZE = 9_999_999
MIN_IMAGE_SIZE = 32
MAX_OBJECTS = 6
CAPTIONS_PER_IMAGE = 5
DOMINANT_AREA_RATIO = 1.5
MIN_VISIBLE_FRACTION = 0.45
MIN_VISIBLE_PIXELS = 10
_LAYOUT_ATTEMPTS = 60
_NUMBER_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six')
_BACKGROUND_WORDS = ('noisy', 'textured', 'grey', 'speckled', 'mottled')


@dataclass
class SceneObject:
    """One drawn object of a scene.

    Args:
        label (int): Class index into :data:`CLASSES`.
        mask (np.ndarray): Visible pixels, bool array of shape (H, W).
        polygons (list[list[float]]): COCO polygons ``[x1, y1, x2, y2, ...]`` of the visible pixels.
        dominant (bool): Whether this is the image's dominant (class-defining) object.
    """

    label: int
    mask: np.ndarray
    polygons: List[List[float]]
    dominant: bool

    @property
    def area(self) -> int:
        """Number of visible pixels."""
        return int(self.mask.sum())

    @property
    def bbox(self) -> List[float]:
        """Tight COCO box ``[x, y, w, h]`` of the visible pixels."""
        ys, xs = np.nonzero(self.mask)
        x0, y0 = int(xs.min()), int(ys.min())
        return [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]

    @property
    def centroid(self) -> Tuple[float, float]:
        """Mean ``(x, y)`` of the visible pixel centres."""
        ys, xs = np.nonzero(self.mask)
        return float(xs.mean() + 0.5), float(ys.mean() + 0.5)

    @property
    def name(self) -> str:
        """Category name, e.g. ``'red circle'``."""
        return CLASSES[self.label]


@dataclass
class Scene:
    """A rendered image with its annotations.

    Args:
        image (np.ndarray): RGB uint8 image of shape (H, W, 3).
        objects (list[SceneObject]): Objects in drawing (back-to-front) order.
        captions (list[str]): Captions describing the image.
        label (int): Class label (category of the dominant object).
    """

    image: np.ndarray
    objects: List[SceneObject]
    captions: List[str]
    label: int


# --------------------------------------------------------------------------- geometry


def shape_polygon(shape: str, cx: float, cy: float, radius: float,
                  angle: float) -> np.ndarray:
    """Vertices of a shape in continuous image coordinates (pixel ``i`` spans ``[i, i + 1]``).

    Args:
        shape (str): One of :data:`SHAPES`.
        cx (float): Centre x.
        cy (float): Centre y.
        radius (float): Circumradius in pixels.
        angle (float): Rotation in radians.

    Returns:
        np.ndarray: Vertices, shape (K, 2), as ``(x, y)``.
    """
    if shape == 'circle':
        theta = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        radii = np.full_like(theta, radius)
    elif shape == 'square':
        theta = np.arange(4) * np.pi / 2 + np.pi / 4
        radii = np.full_like(theta, radius)
    elif shape == 'triangle':
        theta = np.arange(3) * 2 * np.pi / 3 - np.pi / 2
        radii = np.full_like(theta, radius)
    elif shape == 'star':
        theta = np.arange(10) * np.pi / 5 - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, radius, 0.45 * radius)
    elif shape == 'hexagon':
        theta = np.arange(6) * np.pi / 3
        radii = np.full_like(theta, radius)
    else:
        raise ValueError(f'shape_polygon: unknown shape {shape!r}; expected one of {SHAPES}')
    theta = theta + angle
    return np.stack([cx + radii * np.cos(theta), cy + radii * np.sin(theta)], axis=1)


def polygon_area(vertices: np.ndarray) -> float:
    """Area of a simple polygon (shoelace formula).

    Args:
        vertices (np.ndarray): Vertices, shape (K, 2).

    Returns:
        float: The enclosed area in square pixels.
    """
    x, y = vertices[:, 0], vertices[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def rasterize_polygon(vertices: np.ndarray, size: int) -> np.ndarray:
    """Pixels whose centres lie inside a polygon.

    Args:
        vertices (np.ndarray): Vertices in continuous coordinates, shape (K, 2).
        size (int): Image side length.

    Returns:
        np.ndarray: Bool mask of shape (size, size).
    """
    canvas = np.zeros((size, size), np.uint8)
    # OpenCV puts pixel centres on integers; sub-pixel precision of 1/16 px via ``shift``.
    points = np.round((vertices - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [points], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def _bridge_holes(outer: np.ndarray, holes: Sequence[np.ndarray]) -> np.ndarray:
    """Join holes into their outline with zero-width cuts (a "keyhole" polygon).

    COCO merges an object's polygons by union, so a hole cannot be a separate polygon; walking
    into each hole and back along the same segment keeps it out under the even-odd fill rule
    that pycocotools' rasterizer uses.

    Args:
        outer (np.ndarray): Outline vertices, shape (K, 2).
        holes (Sequence[np.ndarray]): Hole outlines, each of shape (M, 2).

    Returns:
        np.ndarray: A single vertex ring, shape (K + sum(M + 2), 2).
    """
    ring = outer
    for hole in holes:
        dist = ((ring[:, None, :] - hole[None, :, :])**2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
        ring = np.concatenate([ring[:i + 1], hole[j:], hole[:j + 1], ring[i:]])
    return ring


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Trace a pixel mask into COCO polygons that rasterise back to the same pixels.

    The mask is upsampled 2x (nearest) and traced by OpenCV through the centres of its boundary
    sub-pixels, which lie a quarter pixel inside the pixel edges: every foreground pixel centre is
    inside the outline and every background centre outside.

    Args:
        mask (np.ndarray): Bool or 0/1 array of shape (H, W).

    Returns:
        list[list[float]]: One flat ``[x1, y1, x2, y2, ...]`` list per connected part (empty for an
        empty mask).
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return []
    x0, y0 = int(xs.min()), int(ys.min())
    crop = np.pad(mask[y0:ys.max() + 1, x0:xs.max() + 1].astype(np.uint8), 1)
    upsampled = np.ascontiguousarray(np.repeat(np.repeat(crop, 2, axis=0), 2, axis=1))
    contours, hierarchy = cv2.findContours(upsampled, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    origin = np.array([x0 - 1, y0 - 1], np.float64)

    def to_image(contour: np.ndarray) -> np.ndarray:
        return (contour[:, 0, :].astype(np.float64) + 0.5) / 2 + origin

    polygons = []
    for index, (_, _, first_child, parent) in enumerate(hierarchy[0]):
        if parent != -1:
            continue
        holes = []
        child = first_child
        while child != -1:
            holes.append(to_image(contours[child]))
            child = hierarchy[0][child][0]
        ring = _bridge_holes(to_image(contours[index]), holes)
        if len(ring) >= 3:
            polygons.append([round(float(v), 2) for v in ring.reshape(-1)])
    return polygons


# --------------------------------------------------------------------------- rendering


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A low-saturation multi-octave value-noise texture, float32 (size, size, 3) in [0, 255]."""
    grey = rng.uniform(85, 165)
    tint = rng.normal(0, 8, 3)
    texture = np.zeros((size, size, 3), np.float32)
    for cells, amplitude, colour_amplitude in ((3, 38, 8), (7, 22, 6), (17, 12, 4)):
        luminance = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
        chroma = rng.uniform(-1, 1, (cells, cells, 3)).astype(np.float32)
        lum = cv2.resize(luminance, (size, size), interpolation=cv2.INTER_CUBIC)
        col = cv2.resize(chroma, (size, size), interpolation=cv2.INTER_CUBIC)
        texture += amplitude * lum[..., None] + colour_amplitude * col
    return (grey + tint + texture).astype(np.float32)


def _sample_layout(rng: np.random.Generator, size: int) -> Tuple[List[int], List[np.ndarray], int]:
    """Sample object categories and polygons until the occlusion constraints hold.

    Constraints: every object keeps at least ``MIN_VISIBLE_FRACTION`` of its area (and
    ``MIN_VISIBLE_PIXELS`` pixels) visible, and the dominant object's visible area is at least
    ``DOMINANT_AREA_RATIO`` times that of every other object.

    Returns:
        tuple: labels and polygons in drawing order, and the drawing index of the dominant object.
    """
    num_objects = int(rng.integers(1, MAX_OBJECTS + 1))
    while True:
        for _ in range(_LAYOUT_ATTEMPTS):
            labels = rng.integers(0, len(CLASSES), num_objects)
            radii = np.concatenate([
                rng.uniform(0.20, 0.30, 1), rng.uniform(0.07, 0.15, num_objects - 1)]) * size
            margins = np.concatenate([radii[:1], 0.5 * radii[1:]])
            centres = rng.uniform(margins[:, None], size - margins[:, None], (num_objects, 2))
            angles = rng.uniform(0, 2 * np.pi, num_objects)
            order = rng.permutation(num_objects)
            polygons = [
                shape_polygon(CLASSES[labels[k]].split(' ')[1], centres[k, 0], centres[k, 1],
                              radii[k], angles[k]) for k in order]
            label_map = np.zeros((size, size), np.uint8)
            for depth, vertices in enumerate(polygons):
                label_map[rasterize_polygon(vertices, size)] = depth + 1
            visible = np.bincount(label_map.reshape(-1), minlength=num_objects + 1)[1:]
            full = np.array([polygon_area(v) for v in polygons])
            dominant = int(np.argmax(order == 0))
            others = np.delete(visible, dominant)
            if (np.all(visible >= MIN_VISIBLE_PIXELS)
                    and np.all(visible >= MIN_VISIBLE_FRACTION * full)
                    and (len(others) == 0
                         or visible[dominant] >= DOMINANT_AREA_RATIO * others.max())):
                return [int(labels[k]) for k in order], polygons, dominant
        num_objects -= 1  # crowded: retry with one object fewer (one object always fits)


def render_scene(seed: int, split: str, index: int, image_size: int) -> Scene:
    """Render one image and its annotations from its own random stream.

    Args:
        seed (int): Global seed.
        split (str): One of :data:`SPLITS`.
        index (int): Index of the image inside its split.
        image_size (int): Side length in pixels.

    Returns:
        Scene: The image, objects (back to front), captions and class label.
    """
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    size = image_size
    labels, polygons, dominant = _sample_layout(rng, size)
    label_map = np.zeros((size, size), np.uint8)
    for depth, vertices in enumerate(polygons):
        label_map[rasterize_polygon(vertices, size)] = depth + 1

    image = _background(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    objects = []
    for depth, label in enumerate(labels):
        mask = label_map == depth + 1
        base = np.array(COLOUR_RGB[CLASSES[label].split(' ')[0]], np.float32)
        base = base + rng.normal(0, 10, 3).astype(np.float32)
        direction = rng.uniform(0, 2 * np.pi)
        shading = 40 * (np.cos(direction) * xx + np.sin(direction) * yy - 0.5)
        image[mask] = (base[None, None, :] + shading[..., None])[mask]
        objects.append(
            SceneObject(label=label, mask=mask, polygons=mask_to_polygons(mask),
                        dominant=depth == dominant))
    image += rng.normal(0, 7, image.shape).astype(np.float32)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    captions = describe_scene(objects, size, rng)
    return Scene(image=image, objects=objects, captions=captions, label=labels[dominant])


# --------------------------------------------------------------------------- captions


def _plural(name: str, count: int) -> str:
    """``name`` in the plural when ``count`` is not one."""
    return name if count == 1 else name + 's'


def _count_phrase(name: str, count: int) -> str:
    """``'a red circle'`` or ``'two red circles'``."""
    return f'a {name}' if count == 1 else f'{_NUMBER_WORDS[count]} {_plural(name, count)}'


def _join(phrases: Sequence[str]) -> str:
    """``'a, b and c'``."""
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def _counted(names: Sequence[str], rng: np.random.Generator) -> str:
    """``'two red circles and a blue star'`` for the given names, groups in random order."""
    groups: Dict[str, int] = {}
    for name in names:
        groups[name] = groups.get(name, 0) + 1
    keys = list(groups)
    keys = [keys[i] for i in rng.permutation(len(keys))]
    return _join([_count_phrase(key, groups[key]) for key in keys])


def _position(obj: SceneObject, size: int) -> str:
    """Where an object is in the image, from a 3x3 grid of its centroid."""
    cx, cy = obj.centroid
    col = min(int(3 * cx / size), 2)
    row = min(int(3 * cy / size), 2)
    vertical, horizontal = ('top', 'middle', 'bottom')[row], ('left', 'center', 'right')[col]
    if vertical == 'middle' and horizontal == 'center':
        return 'in the center of the image'
    if vertical == 'middle':
        return f'on the {horizontal} side of the image'
    if horizontal == 'center':
        return f'at the {vertical} of the image'
    return f'in the {vertical} {horizontal} corner'


def _relation(a: SceneObject, b: SceneObject) -> str:
    """Where ``a`` is relative to ``b`` (dominant axis of the centroid offset)."""
    (ax, ay), (bx, by) = a.centroid, b.centroid
    if abs(bx - ax) >= abs(by - ay):
        return 'to the left of' if bx > ax else 'to the right of'
    return 'above' if by > ay else 'below'


def _pick_pair(objects: Sequence[SceneObject],
               rng: np.random.Generator) -> Tuple[SceneObject, SceneObject]:
    """Two objects, preferring a pair of different categories."""
    pairs = [(a, b) for a in objects for b in objects if a is not b]
    distinct = [(a, b) for a, b in pairs if a.label != b.label]
    pool = distinct or pairs
    return pool[int(rng.integers(len(pool)))]


def _sized(obj: SceneObject) -> str:
    """The name with a size word: ``'large red circle'`` (dominant) or ``'small ...'``."""
    return ('large ' if obj.dominant else 'small ') + obj.name


def _caption_position(objects: Sequence[SceneObject], dominant: SceneObject,
                      others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """A large <dominant> at its place in the image."""
    return f'a large {dominant.name} {_position(dominant, size)}'


def _caption_inventory(objects: Sequence[SceneObject], dominant: SceneObject,
                       others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """How many shapes, then each category with its count."""
    if len(objects) == 1:
        return f'a single {dominant.name} on a {rng.choice(_BACKGROUND_WORDS)} background'
    count = _NUMBER_WORDS[len(objects)]
    return f'{count} shapes: {_counted([o.name for o in objects], rng)}'


def _caption_pair(objects: Sequence[SceneObject], dominant: SceneObject,
                  others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """Relative position of two objects (different categories when possible)."""
    if len(objects) == 1:
        return f'a {dominant.name} alone on a {rng.choice(_BACKGROUND_WORDS)} background'
    a, b = _pick_pair(objects, rng)
    return f'a {a.name} {_relation(a, b)} a {b.name}'


def _caption_picture(objects: Sequence[SceneObject], dominant: SceneObject,
                     others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """"A picture of" every category with its count."""
    things = _counted([o.name for o in objects], rng)
    return f'a picture of {things} on a {rng.choice(_BACKGROUND_WORDS)} background'


def _caption_there_is(objects: Sequence[SceneObject], dominant: SceneObject,
                      others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """The dominant object together with the others."""
    if not others:
        return f'there is one big {dominant.name} and nothing else'
    return f'there is a big {dominant.name} together with {_counted([o.name for o in others], rng)}'


def _caption_dominant_relation(objects: Sequence[SceneObject], dominant: SceneObject,
                               others: List[SceneObject], size: int,
                               rng: np.random.Generator) -> str:
    """Where the dominant object is relative to another one."""
    if not others:
        return f'the {dominant.name} is the only shape in the image'
    other = others[int(rng.integers(len(others)))]
    return f'the {_sized(dominant)} is {_relation(dominant, other)} the {_sized(other)}'


def _caption_largest(objects: Sequence[SceneObject], dominant: SceneObject,
                     others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """Every category with its count, naming the largest object."""
    if not others:
        return f'just one {dominant.name} {_position(dominant, size)}'
    return f'{_counted([o.name for o in objects], rng)}, the largest being a {dominant.name}'


def _caption_colours(objects: Sequence[SceneObject], dominant: SceneObject,
                     others: List[SceneObject], size: int, rng: np.random.Generator) -> str:
    """Counts per colour only (no shapes), and the total."""
    colours = [o.name.split(' ')[0] + ' shape' for o in objects]
    total = _NUMBER_WORDS[len(objects)]
    return f'{_counted(colours, rng)}, {total} {_plural("object", len(objects))} in total'


#: Caption templates, each called as ``template(objects, dominant, others, size, rng)`` with all
#: objects, the dominant one, the others, the image size and the image's random stream.
_CAPTION_TEMPLATES: Tuple[Callable[..., str], ...] = (
    _caption_position, _caption_inventory, _caption_pair, _caption_picture, _caption_there_is,
    _caption_dominant_relation, _caption_largest, _caption_colours)


def describe_scene(objects: Sequence[SceneObject], size: int, rng: np.random.Generator,
                   num_captions: int = CAPTIONS_PER_IMAGE) -> List[str]:
    """Distinct captions about the objects' categories, colours, counts and relative positions.

    Args:
        objects (Sequence[SceneObject]): The scene's objects; exactly one is dominant.
        size (int): Image side length (for absolute positions).
        rng (np.random.Generator): Random stream of the image.
        num_captions (int): How many captions, each from a different template
            (at most ``len(_CAPTION_TEMPLATES)``).

    Returns:
        list[str]: Sentences starting with a capital letter and ending with a full stop.
    """
    if not 1 <= num_captions <= len(_CAPTION_TEMPLATES):
        raise ValueError(f'describe_scene: num_captions must be in [1, {len(_CAPTION_TEMPLATES)}], '
                         f'got {num_captions}')
    dominant = next(o for o in objects if o.dominant)
    others = [o for o in objects if not o.dominant]
    chosen = rng.permutation(len(_CAPTION_TEMPLATES))[:num_captions]
    captions = []
    for t in sorted(chosen):
        text = _CAPTION_TEMPLATES[t](objects, dominant, others, size, rng)
        captions.append(text[0].upper() + text[1:] + '.')
    return captions


# --------------------------------------------------------------------------- writing


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


def _dump_json(obj: object, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, sort_keys=True, separators=(',', ':'))


def _info(split: str, kind: str) -> dict:
    return dict(description=f'Uni-Perceiver v2 synthetic scenes, {split} split, {kind}',
                version=str(GENERATOR_VERSION))


def generate_synthetic_scenes(out_dir: str,
                              num_train: int = 2000,
                              num_val: int = 200,
                              num_test: int = 200,
                              image_size: int = 128,
                              seed: int = 0,
                              progress: Optional[Callable[[str, int, int], None]] = None) -> dict:
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
                                      progress)
    classes_file = osp.join(meta_dir, 'classes.txt')
    with open(classes_file, 'w', encoding='utf-8') as f:
        f.write(''.join(name + '\n' for name in CLASSES))
    generation_file = osp.join(meta_dir, 'generation.json')
    _dump_json(
        dict(generator='uniperceiver_v2.datasets.synthetic_scenes', version=GENERATOR_VERSION,
             seed=int(seed), image_size=int(image_size), num_train=int(num_train),
             num_val=int(num_val), num_test=int(num_test), classes=list(CLASSES)), generation_file)
    written.update(classes_file=classes_file, generation_file=generation_file)
    return written


def _write_split(out_dir: str, split: str, num_images: int, image_size: int, seed: int,
                 progress: Optional[Callable[[str, int, int], None]]) -> dict:
    """Render and write one split; returns its paths (see :func:`generate_synthetic_scenes`)."""
    images, instances, captions_gt, karpathy, labels = [], [], [], [], []
    for index in range(num_images):
        image_id = SPLIT_ID_OFFSETS[split] + index + 1
        file_name = f'synthetic_{split}_{image_id:012d}.png'
        scene = render_scene(seed, split, index, image_size)
        Image.fromarray(scene.image).save(osp.join(out_dir, split, file_name), format='PNG',
                                          compress_level=6)
        images.append(dict(id=image_id, file_name=file_name, height=image_size, width=image_size,
                           coco_url=f'synthetic/{split}/{file_name}'))
        for k, obj in enumerate(scene.objects):
            instances.append(
                dict(id=image_id * 10 + k, image_id=image_id, category_id=obj.label + 1,
                     bbox=obj.bbox, area=float(obj.area), iscrowd=0, segmentation=obj.polygons))
        for c, caption in enumerate(scene.captions):
            captions_gt.append(dict(id=image_id * 10 + c, image_id=image_id, caption=caption))
        relative = f'{split}/{file_name}'
        if split == 'train':
            karpathy.extend(dict(image=relative, caption=caption, image_id=f'synthetic_{image_id}')
                            for caption in scene.captions)
        else:
            karpathy.append(
                dict(image=relative, caption=list(scene.captions),
                     image_id=f'synthetic_{image_id}'))
        labels.append(f'{file_name} {scene.label}\n')
        if progress is not None:
            progress(split, index + 1, num_images)

    paths = dict(
        img_dir=osp.join(out_dir, split),
        instances=osp.join(out_dir, 'annotations', f'instances_{split}.json'),
        karpathy=osp.join(out_dir, 'annotations', f'coco_karpathy_{split}.json'),
        captions=osp.join(out_dir, 'annotations', f'coco_karpathy_{split}_gt.json'),
        imagenet_ann=osp.join(out_dir, 'meta', f'{split}.txt'))
    _dump_json(
        dict(info=_info(split, 'instances'), licenses=[], images=images, annotations=instances,
             categories=list(CATEGORIES)), paths['instances'])
    _dump_json(
        dict(info=_info(split, 'captions'), licenses=[], images=images, annotations=captions_gt,
             type='captions'), paths['captions'])
    _dump_json(karpathy, paths['karpathy'])
    with open(paths['imagenet_ann'], 'w', encoding='utf-8') as f:
        f.write(''.join(labels))
    paths['num_images'] = num_images
    return paths
