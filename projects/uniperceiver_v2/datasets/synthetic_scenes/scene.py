"""Rendering of one synthetic scene: layout under occlusion constraints, painting, noise.

Every image has one clearly dominant object (the largest visible one, at least
``DOMINANT_AREA_RATIO`` times larger than any other), whose category is the image's class label.
Objects are painted in depth order; each object's mask is its visible pixels.  Each image is
generated from its own random stream ``(seed, split, index)``, so the output is the same on every
run and independent of the sizes of the other splits.
"""
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .captions import describe_scene
from .categories import (CLASSES, COLOUR_RGB, DOMINANT_AREA_RATIO, MAX_OBJECTS,
                         MIN_VISIBLE_FRACTION, MIN_VISIBLE_PIXELS, SPLITS, _LAYOUT_ATTEMPTS)
from .geometry import encode_mask, polygon_area, rasterize_polygon, shape_polygon


@dataclass
class SceneObject:
    """One drawn object of a scene.

    Args:
        label (int): Class index into :data:`CLASSES`.
        mask (np.ndarray): Visible pixels, bool array of shape (H, W).
        dominant (bool): Whether this is the image's dominant (class-defining) object.
    """

    label: int
    mask: np.ndarray
    dominant: bool

    @property
    def segmentation(self) -> Dict[str, object]:
        """COCO RLE of the visible pixels (decodes to exactly ``mask``)."""
        return encode_mask(self.mask)

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

    @cached_property
    def centroid(self) -> Tuple[float, float]:
        """Mean ``(x, y)`` of the visible pixel centres (computed once: captions and referring
        expressions ask for it many times)."""
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
            SceneObject(label=label, mask=mask, dominant=depth == dominant))
    image += rng.normal(0, 7, image.shape).astype(np.float32)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    captions = describe_scene(objects, size, rng)
    return Scene(image=image, objects=objects, captions=captions, label=labels[dominant])
