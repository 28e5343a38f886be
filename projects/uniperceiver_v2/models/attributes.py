"""Attribute vectors of every token kind, in one place (paper.md §2, Uni-Perceiver-MoE).

The attribute-level conditional MoE routes a token by a fixed 8-bit attribute vector of the segment
it belongs to, not by its hidden state.  The bits are::

    0 input_has_image   the task's input sequence contains image tokens
    1 input_has_text    the task's input sequence contains text tokens
    2 image_global      the token is a global image token (attention pool / flattened F_L)
    3 image_region      the token is a region-proposal token
    4 text              the token is a text token
    5 target_side       the token belongs to a target sequence (candidate set Y), not the input x
    6 causal            the token is autoregressive text (can see only earlier text)
    7 vocabulary        the token is a single vocabulary word (caption / MLM targets)

The <SPE> token takes the attributes of the first segment of its sequence.
"""
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

NUM_ATTRIBUTE_BITS = 8

#: token kind -> attribute bits.  Every token the decoder ever sees has one of these kinds.
TOKEN_ATTRIBUTES: Dict[str, Tuple[int, ...]] = {
    # image-only inputs (classification, detection, image side of retrieval)
    'image_global': (1, 0, 1, 0, 0, 0, 0, 0),
    'image_proposal': (1, 0, 0, 1, 0, 0, 0, 0),
    # image tokens of an image+text input (captioning)
    'caption_image_global': (1, 1, 1, 0, 0, 0, 0, 0),
    'caption_image_proposal': (1, 1, 0, 1, 0, 0, 0, 0),
    # autoregressive caption text after the image
    'caption_text': (1, 1, 0, 0, 1, 0, 1, 0),
    # text-only inputs
    'text_input': (0, 1, 0, 0, 1, 0, 0, 0),          # masked language modelling input
    'retrieval_text': (0, 1, 0, 0, 1, 1, 0, 0),      # caption as the target of image->text
    # target sequences
    'class_name_target': (0, 1, 0, 0, 1, 1, 0, 0),
    'vocabulary_target': (0, 1, 0, 0, 1, 1, 0, 1),
}

TOKEN_KINDS: Tuple[str, ...] = tuple(TOKEN_ATTRIBUTES)


def check_token_kind(kind: str) -> str:
    """Return ``kind`` or raise a clear error listing the known kinds."""
    if kind not in TOKEN_ATTRIBUTES:
        raise KeyError(f'models/attributes.py: unknown token kind {kind!r}; known kinds: '
                       f'{", ".join(TOKEN_KINDS)}')
    return kind


def attribute_tensor(kinds: Sequence[str], device=None) -> Tensor:
    """The attribute vectors of ``kinds`` as a float tensor.

    Args:
        kinds (Sequence[str]): token kinds (keys of :data:`TOKEN_ATTRIBUTES`).
        device: device of the result.

    Returns:
        Tensor: ``(len(kinds), 8)`` float32 in {0, 1}.
    """
    rows = [TOKEN_ATTRIBUTES[check_token_kind(k)] for k in kinds]
    return torch.tensor(rows, dtype=torch.float32, device=device).reshape(-1, NUM_ATTRIBUTE_BITS)
