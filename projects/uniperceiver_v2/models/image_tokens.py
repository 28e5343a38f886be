"""The image encoder's output: one explicit structure per batch (paper Eq. 2-3).

Everything a task needs from the image travels in :class:`ImageTokens`; nothing is kept in module
state.  Conventions:

* ``*_padding_mask`` are ``bool`` with ``True`` where a token is padding (PyTorch's
  ``key_padding_mask`` convention) - e.g. proposals beyond an image's valid count.
* boxes are normalised ``(cx, cy, w, h)`` in ``[0, 1]`` relative to each image's ``img_shape`` (the
  resized, unpadded image), as mmdet's DETR-family heads predict them.
* mask logits are at the proposal network's pixel-embedding resolution of the *padded* batch
  (``batch_input_shape / mask_stride``).
"""
from dataclasses import dataclass, fields, replace
from typing import Optional

from torch import Tensor


@dataclass
class ImageTokens:
    """Global and proposal tokens of a batch of images, with per-proposal geometry.

    Args:
        global_tokens (Tensor): ``(B, G, C)`` M' attention-pool tokens followed by the flattened
            (optionally pooled) last feature map, projected to the decoder width ``C`` (Eq. 3).
        global_padding_mask (Tensor): ``(B, G)`` bool, True = padding.
        proposal_tokens (Tensor): ``(B, N, C)`` q = Proj(q_sem) + B(q_box) + M(q_mask) (Eq. 2).
        proposal_padding_mask (Tensor): ``(B, N)`` bool, True = padding.
        proposal_boxes (Tensor): ``(B, N, 4)`` normalised cxcywh.
        proposal_mask_logits (Tensor): ``(B, N, h, w)`` mask logits.
        proposal_objectness (Tensor): ``(B, N)`` foreground logits.
        proposal_query_index (Tensor): ``(B, N)`` long, index of each proposal among the proposal
            network's matching queries (after top-N selection the order differs).
        proposal_gt_index (Tensor, optional): ``(B, N)`` long, the ground-truth instance each
            proposal was matched to by the proposal network's Hungarian assignment (final decoder
            layer), ``-1`` for unmatched ("no object").  Only set by ``ImageEncoder.loss``; the
            detection task reuses it instead of matching again.
        aux_proposal_tokens (Tensor, optional): ``(B, L - 1, N, C)`` the same N proposals' tokens
            (Eq. 2) built from each earlier decoder layer of the proposal network (its query
            feature, box and mask).  Only set by ``ImageEncoder.loss(..., aux_layers=True)``, for
            the detection task's deep class supervision ([ours], not in the paper).
        aux_proposal_gt_index (Tensor, optional): ``(B, L - 1, N)`` long, those layers' Hungarian
            assignment of the proposals (``-1`` = unmatched).
    """
    global_tokens: Tensor
    global_padding_mask: Tensor
    proposal_tokens: Tensor
    proposal_padding_mask: Tensor
    proposal_boxes: Tensor
    proposal_mask_logits: Tensor
    proposal_objectness: Tensor
    proposal_query_index: Tensor
    proposal_gt_index: Optional[Tensor] = None
    aux_proposal_tokens: Optional[Tensor] = None
    aux_proposal_gt_index: Optional[Tensor] = None

    @property
    def batch_size(self) -> int:
        return self.global_tokens.shape[0]

    def tokens(self, use_global: bool = True, use_proposals: bool = True):
        """The image token sequence for the decoder and its padding mask.

        Args:
            use_global (bool): include the global tokens.
            use_proposals (bool): include the proposal tokens (global-only / regional-only ablations).

        Returns:
            tuple[Tensor, Tensor]: ``(B, T, C)`` tokens and ``(B, T)`` padding mask.
        """
        import torch
        parts = []
        if use_global:
            parts.append((self.global_tokens, self.global_padding_mask))
        if use_proposals:
            parts.append((self.proposal_tokens, self.proposal_padding_mask))
        if not parts:
            raise ValueError('ImageTokens.tokens: at least one of use_global / use_proposals '
                             'must be True')
        return (torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=1))

    def index_select(self, index: Tensor) -> 'ImageTokens':
        """The tokens of the images ``index`` (e.g. to repeat images for beam search)."""
        return replace(self, **{
            f.name: getattr(self, f.name).index_select(0, index)
            for f in fields(self) if getattr(self, f.name) is not None
        })
