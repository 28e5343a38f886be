"""Token kinds and their attribute bits, in one typed table (Uni-Perceiver-MoE's attribute routing).

The attribute-level conditional MoE routes a token by a fixed 8-bit attribute vector of the segment
it belongs to, not by its hidden state.  :class:`Attribute` names the bits (bit ``i`` is entry
``i`` of the router's input vector)::

    0 INPUT_HAS_IMAGE   the task's input sequence contains image tokens
    1 INPUT_HAS_TEXT    the task's input sequence contains text tokens
    2 IMAGE_GLOBAL      the token is a global image token (attention pool / flattened F_L)
    3 IMAGE_REGION      the token is a region-proposal token
    4 TEXT              the token is a text token
    5 TARGET_SIDE       the token belongs to a target sequence (candidate set Y), not the input x
    6 CAUSAL            the token is autoregressive text (can see only earlier text)
    7 VOCABULARY        the token is a single vocabulary word (caption / MLM targets)

:class:`TokenKind` names every kind of token the decoder sees, and :data:`TOKEN_ATTRIBUTES` maps
each kind to its bits.  ``TokenKind`` is a ``str`` enum, so ``'image_global'`` and
``TokenKind.IMAGE_GLOBAL`` are the same key everywhere (configs and caches keep working with the
plain names).  The <SPE> token takes the attributes of the first segment of its sequence.

``RETRIEVAL_TEXT`` and ``CLASS_NAME_TARGET`` have the same bits (a text on the target side of an
image-input task), so they route to the same experts; experiments/token_kind_routing/README.md
records the measurement behind keeping them together.
"""
import enum
from typing import Dict, NamedTuple, Sequence, Union

import torch
from torch import Tensor


class Attribute(enum.IntFlag):
    """The attribute bits of the MoE router input (bit ``i`` = vector entry ``i``)."""
    INPUT_HAS_IMAGE = 1 << 0
    INPUT_HAS_TEXT = 1 << 1
    IMAGE_GLOBAL = 1 << 2
    IMAGE_REGION = 1 << 3
    TEXT = 1 << 4
    TARGET_SIDE = 1 << 5
    CAUSAL = 1 << 6
    VOCABULARY = 1 << 7


NUM_ATTRIBUTE_BITS = len(Attribute)


class TokenKind(str, enum.Enum):
    """Every kind of token the unified decoder sees (value = the name used in configs / caches)."""
    # image-only inputs (classification, detection, image side of retrieval)
    IMAGE_GLOBAL = 'image_global'
    IMAGE_PROPOSAL = 'image_proposal'
    # image tokens of an image+text input (captioning)
    CAPTION_IMAGE_GLOBAL = 'caption_image_global'
    CAPTION_IMAGE_PROPOSAL = 'caption_image_proposal'
    # autoregressive caption text after the image
    CAPTION_TEXT = 'caption_text'
    # text-only input (masked language modelling)
    TEXT_INPUT = 'text_input'
    # texts on the target side: captions of image->text retrieval, class names, vocabulary words
    RETRIEVAL_TEXT = 'retrieval_text'
    CLASS_NAME_TARGET = 'class_name_target'
    VOCABULARY_TARGET = 'vocabulary_target'

    def __str__(self) -> str:
        return self.value

    @property
    def attributes(self) -> Attribute:
        """The kind's attribute bits."""
        return TOKEN_ATTRIBUTES[self]


A = Attribute
#: token kind -> attribute bits: the one table the router reads.
TOKEN_ATTRIBUTES: Dict[TokenKind, Attribute] = {
    TokenKind.IMAGE_GLOBAL: A.INPUT_HAS_IMAGE | A.IMAGE_GLOBAL,
    TokenKind.IMAGE_PROPOSAL: A.INPUT_HAS_IMAGE | A.IMAGE_REGION,
    TokenKind.CAPTION_IMAGE_GLOBAL: A.INPUT_HAS_IMAGE | A.INPUT_HAS_TEXT | A.IMAGE_GLOBAL,
    TokenKind.CAPTION_IMAGE_PROPOSAL: A.INPUT_HAS_IMAGE | A.INPUT_HAS_TEXT | A.IMAGE_REGION,
    TokenKind.CAPTION_TEXT: A.INPUT_HAS_IMAGE | A.INPUT_HAS_TEXT | A.TEXT | A.CAUSAL,
    TokenKind.TEXT_INPUT: A.INPUT_HAS_TEXT | A.TEXT,
    TokenKind.RETRIEVAL_TEXT: A.INPUT_HAS_TEXT | A.TEXT | A.TARGET_SIDE,
    TokenKind.CLASS_NAME_TARGET: A.INPUT_HAS_TEXT | A.TEXT | A.TARGET_SIDE,
    TokenKind.VOCABULARY_TARGET: A.INPUT_HAS_TEXT | A.TEXT | A.TARGET_SIDE | A.VOCABULARY,
}
del A


class ImageKinds(NamedTuple):
    """The kinds of an image's global and proposal tokens in one kind of input sequence."""
    global_tokens: TokenKind
    proposal_tokens: TokenKind


#: image tokens of an image-only input (classification, detection, retrieval)
IMAGE_ONLY = ImageKinds(TokenKind.IMAGE_GLOBAL, TokenKind.IMAGE_PROPOSAL)
#: image tokens followed by text in the same input (captioning)
IMAGE_WITH_TEXT = ImageKinds(TokenKind.CAPTION_IMAGE_GLOBAL, TokenKind.CAPTION_IMAGE_PROPOSAL)


def token_kind(kind: Union[str, TokenKind]) -> TokenKind:
    """``kind`` as a :class:`TokenKind`, or a clear error listing the known kinds."""
    try:
        return TokenKind(kind)
    except ValueError:
        raise KeyError(f'models/attributes.py: unknown token kind {kind!r}; known kinds: '
                       f'{", ".join(k.value for k in TokenKind)}') from None


def attribute_vector(kind: Union[str, TokenKind]) -> tuple:
    """The ``NUM_ATTRIBUTE_BITS`` 0/1 entries of a kind's attributes (bit ``i`` = entry ``i``)."""
    bits = int(token_kind(kind).attributes)
    return tuple((bits >> i) & 1 for i in range(NUM_ATTRIBUTE_BITS))


def attribute_tensor(kinds: Sequence[Union[str, TokenKind]], device=None) -> Tensor:
    """The attribute vectors of ``kinds`` as a float tensor.

    Args:
        kinds (Sequence[str | TokenKind]): token kinds.
        device: device of the result.

    Returns:
        Tensor: ``(len(kinds), NUM_ATTRIBUTE_BITS)`` float32 in {0, 1}.
    """
    rows = [attribute_vector(k) for k in kinds]
    return torch.tensor(rows, dtype=torch.float32, device=device).reshape(-1, NUM_ATTRIBUTE_BITS)
