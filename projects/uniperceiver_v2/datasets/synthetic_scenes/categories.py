"""Categories of the synthetic scenes: shapes x colours, and the numbers that bound a scene."""
from typing import Dict, Tuple, Union

GENERATOR_VERSION = 2  # 2: masks as COCO RLE, shapes rasterised by pycocotools

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


def image_name(split: str, index: int) -> Tuple[int, str]:
    """COCO image id and file name of image ``index`` (from 0) of ``split``."""
    image_id = SPLIT_ID_OFFSETS[split] + index + 1
    return image_id, f'synthetic_{split}_{image_id:012d}.png'
