"""The caption grammar of the synthetic scenes: templates about categories, colours, counts and
relative positions, each image's captions drawn from its own random stream."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Sequence, Tuple

import numpy as np

from .categories import CAPTIONS_PER_IMAGE

if TYPE_CHECKING:  # only for type hints (scene.py imports this module)
    from .scene import SceneObject

_NUMBER_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six')
_BACKGROUND_WORDS = ('noisy', 'textured', 'grey', 'speckled', 'mottled')


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
