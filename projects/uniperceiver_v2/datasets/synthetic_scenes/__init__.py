"""Deterministic synthetic multi-task scenes, written in the real on-disk dataset formats.

The embedded default data of the project (``python tools/data/generate_synthetic.py``): coloured
shapes on a textured, noisy background, with boxes, masks, a class label and several captions per
image, written so that the unmodified OpenMMLab dataset classes read them.  A data tool, not part
of the runtime package (nothing in ``uniperceiver_v2`` needs it); import it with ``tools/data`` on
``sys.path``.

* ``categories``: the shape x colour categories and the bounds of a scene;
* ``geometry``: shape outlines, areas, rasterising and mask encoding (pycocotools);
* ``scene``: layout under occlusion constraints and painting of one image;
* ``captions``: the caption grammar;
* ``writers``: the COCO instances / captions, Karpathy and ImageNet-list formats;
* ``generate``: :func:`generate_synthetic_scenes`, all splits;
* ``referring``, ``refcoco_writer``, ``grounding_semseg``: unambiguous referring expressions in
  the RefCOCO format and semantic label maps in the mmseg layout
  (:class:`GroundingSemsegWriter` from the same renders, or
  :func:`generate_grounding_and_semseg`: new files beside the others).

The same arguments give byte-identical files.
"""
from .captions import describe_scene
from .categories import (CATEGORIES, CLASSES, COLOUR_RGB, COLOURS, GENERATOR_VERSION,
                         MAX_SPLIT_SIZE, METAINFO, MIN_IMAGE_SIZE, PALETTE, SHAPES, SPLITS)
from .generate import generate_synthetic_scenes
from .grounding_semseg import (IGNORE_INDEX, REFS_FILE, GroundingSemsegWriter,
                               generate_grounding_and_semseg, semantic_label_map)
from .geometry import encode_mask, polygon_area, rasterize_polygon, shape_polygon
from .referring import EXPRESSIONS_PER_OBJECT, referring_expressions
from .scene import Scene, SceneObject, render_scene

__all__ = [
    'CATEGORIES', 'CLASSES', 'COLOUR_RGB', 'COLOURS', 'GENERATOR_VERSION', 'MAX_SPLIT_SIZE',
    'METAINFO', 'MIN_IMAGE_SIZE', 'PALETTE', 'SHAPES', 'SPLITS', 'Scene', 'SceneObject',
    'describe_scene', 'encode_mask', 'generate_synthetic_scenes', 'polygon_area',
    'rasterize_polygon', 'render_scene', 'shape_polygon', 'EXPRESSIONS_PER_OBJECT',
    'IGNORE_INDEX', 'REFS_FILE', 'GroundingSemsegWriter', 'generate_grounding_and_semseg',
    'referring_expressions',
    'semantic_label_map'
]
