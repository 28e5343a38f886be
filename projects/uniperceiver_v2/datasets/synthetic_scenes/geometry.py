"""Geometry of the synthetic scenes: shape outlines, their areas, and pixel masks.

Rasterising and mask encoding are pycocotools' (the COCO API that reads the annotations back):
a shape is rasterised by ``frPyObjects`` + ``decode`` and an object's visible pixels are written
as COCO RLE (``encode``), which keeps holes and decodes to exactly the painted pixels.
"""
from typing import Dict

import numpy as np
from pycocotools import mask as mask_utils

from .categories import SHAPES


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
    """Pixels inside a polygon, by the COCO rasteriser (pycocotools).

    Args:
        vertices (np.ndarray): Vertices in continuous coordinates (pixel ``i`` spans
            ``[i, i + 1]``), shape (K, 2).
        size (int): Image side length.

    Returns:
        np.ndarray: Bool mask of shape (size, size).
    """
    rle = mask_utils.frPyObjects([vertices.astype(np.float64).reshape(-1).tolist()], size, size)
    return mask_utils.decode(rle)[..., 0].astype(bool)


def encode_mask(mask: np.ndarray) -> Dict[str, object]:
    """A pixel mask as a JSON-ready COCO RLE ``{'size': [H, W], 'counts': str}``.

    Args:
        mask (np.ndarray): Bool or 0/1 array of shape (H, W).
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(v) for v in rle['size']], counts=rle['counts'].decode('ascii'))
