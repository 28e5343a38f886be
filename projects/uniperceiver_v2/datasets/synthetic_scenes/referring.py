"""Referring expressions of the synthetic scenes: for each object, phrases that pick out exactly
that object among the scene's objects ("the small red triangle to the left of the blue star").

An expression is a conjunction of properties (category, colour alone, shape alone, size, place in
the image, an extreme position among its category, a relation to an object of a unique
category).  A candidate is kept only if the objects that satisfy all of its properties are
exactly the referred one, so every written expression is unambiguous by construction.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, List, Sequence, Tuple

import numpy as np

from .captions import _position, _relation

if TYPE_CHECKING:  # only for type hints
    from .scene import SceneObject

#: Expressions written per object (fewer when fewer unambiguous ones exist).
EXPRESSIONS_PER_OBJECT = 3

Predicate = Callable[['SceneObject'], bool]


def _colour(obj: SceneObject) -> str:
    return obj.name.split(' ')[0]


def _shape(obj: SceneObject) -> str:
    return obj.name.split(' ')[1]


def _size_word(obj: SceneObject) -> str:
    return 'large' if obj.dominant else 'small'


_EXTREMES: Tuple[Tuple[str, int, int], ...] = (
    # (word, centroid axis, sign): the object with the largest sign * coordinate
    ('leftmost', 0, -1), ('rightmost', 0, 1), ('topmost', 1, -1), ('bottommost', 1, 1))


def _candidates(target: SceneObject, objects: Sequence[SceneObject],
                size: int) -> List[Tuple[str, List[Predicate]]]:
    """Every (phrase, properties) candidate about ``target`` (ambiguous ones included)."""
    name, colour, shape = target.name, _colour(target), _shape(target)
    same_category: Predicate = lambda o: o.label == target.label  # noqa: E731
    out: List[Tuple[str, List[Predicate]]] = [
        (f'the {name}', [same_category]),
        (f'the {colour} shape', [lambda o: _colour(o) == colour]),
        (f'the {shape}', [lambda o: _shape(o) == shape]),
        (f'the {_size_word(target)} {name}',
         [same_category, lambda o: o.dominant == target.dominant]),
    ]
    place = _position(target, size)
    out.append((f'the {name} {place}', [same_category, lambda o: _position(o, size) == place]))
    peers = [o for o in objects if o.label == target.label]
    for word, axis, sign in _EXTREMES:
        if len(peers) < 2:
            break
        values = [sign * o.centroid[axis] for o in peers]
        best = max(values)
        if values.count(best) == 1 and sign * target.centroid[axis] == best:
            out.append((f'the {word} {name}', [same_category,
                                                lambda o, t=target: o is t]))
    for ref in objects:
        if ref is target or sum(o.label == ref.label for o in objects) != 1:
            continue
        relation = _relation(target, ref)
        out.append((f'the {name} {relation} the {ref.name}',
                    [same_category,
                     lambda o, r=ref, rel=relation: o is not r and _relation(o, r) == rel]))
    return out


def referring_expressions(objects: Sequence[SceneObject], size: int, rng: np.random.Generator,
                          per_object: int = EXPRESSIONS_PER_OBJECT) -> List[List[str]]:
    """Unambiguous referring expressions for every object of a scene.

    Args:
        objects (Sequence[SceneObject]): The scene's objects.
        size (int): Image side length (for places in the image).
        rng (np.random.Generator): The random stream of the image's expressions (which of the
            unambiguous candidates are written).
        per_object (int): At most this many expressions per object.

    Returns:
        list[list[str]]: For each object (same order), distinct lower-case expressions, each
        satisfied by that object alone; an object with none gets an empty list.
    """
    if per_object < 1:
        raise ValueError(f'referring_expressions: per_object must be >= 1, got {per_object}')
    result = []
    for target in objects:
        unique = []
        for phrase, predicates in _candidates(target, objects, size):
            chosen = [o for o in objects if all(p(o) for p in predicates)]
            if len(chosen) == 1 and chosen[0] is target and phrase not in unique:
                unique.append(phrase)
        order = rng.permutation(len(unique))[:per_object] if unique else []
        result.append([unique[i] for i in sorted(order)])
    return result
