"""Candidate target sets in training: how the embeddings ``g(f(y))`` of a large set Y enter a step.

Every task is one likelihood (paper Sec. 3.2, Eq. 1)::

    P(x, y) ∝ exp(cos(g(f(x)), g(f(y))) / τ),      y ∈ Y

and for classification (Y = the class names) and captioning / masked language modelling (Y = the
vocabulary) the set is large and does not depend on the batch: ImageNet-1k has 1,000 names,
RoBERTa 50,265 tokens.  Encoding all of Y with gradient at every step costs the same whatever the
batch size, and at the real sizes it is most of a step.  :class:`CandidateTargets` (config key
``candidates`` of the tasks that score a set) chooses how Y enters a training step:

* ``mode='exact'`` (default; the paper's loss): every candidate is encoded with gradient.  With
  ``shard=True`` each of the W ranks encodes ``ceil(N / W)`` of them and the slices are
  all-gathered with gradient (the predecessors' "distributed shared targets"): the same logits on
  every rank and, after DDP averages the gradients, the same update as without sharding, at 1/W of
  the cost.  It is a collective inside the loss, so it needs every rank on the same task
  (unmixed sampling, paper Sec. 3.3).
* ``mode='sampled'`` (approximation): the candidates the batch's targets use (the positives) plus
  ``num_samples`` others drawn uniformly without replacement are encoded with gradient; the
  logit of each drawn negative gets ``+ log((N - P) / S)`` (sampled softmax with the logQ
  correction: P positives, S drawn, so each drawn negative stands for ``(N - P) / S`` of them), so
  the normaliser of the softmax estimates the full one.  Cost ∝ P + S; label smoothing and the
  logged accuracy range over the drawn set.
* ``mode='cached'`` (approximation): every candidate is in the softmax (no correction needed);
  the positives plus ``num_samples`` drawn others are encoded with gradient, the rest come from a
  copy of the whole set's embeddings computed without gradient and refreshed every
  ``refresh_interval`` calls (sharded over ranks when ``shard=True``).  Cost ∝ P + S + N / k;
  the cached rows lag the weights by fewer than ``refresh_interval`` steps and pass no gradient.

Evaluation is unchanged in every mode: the whole set, without gradient, cached until the weights
change (``UnifiedLikelihoodHead.cached_targets``).
"""
import math
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch
import torch.distributed as dist
from torch import Tensor

from ..utils.dist import all_gather_with_grad

MODES = ('exact', 'sampled', 'cached')

#: ``encode(indices) -> (len(indices), C)``: embeddings of the candidates with these indices
Encoder = Callable[[Tensor], Tensor]


@dataclass
class CandidateBatch:
    """The candidate embeddings of one training step and how to score against them.

    Args:
        embeddings (Tensor): ``(M, C)`` candidate embeddings (rows of the logits' last dim).
        num_candidates (int): N, the size of the whole set.
        index (Tensor, optional): ``(M,)`` candidate index of each row; None = all N in order.
        logit_offset (Tensor, optional): ``(M,)`` added to the logits (sampled-softmax
            correction); None = nothing added.
    """
    embeddings: Tensor
    num_candidates: int
    index: Optional[Tensor] = None
    logit_offset: Optional[Tensor] = None

    def rows(self, targets: Tensor, ignore_index: int = -100) -> Tensor:
        """Candidate indices -> row indices (``ignore_index`` kept).

        Args:
            targets (Tensor): candidate indices (any shape); every non-ignored one must be a row
                (the positives are always encoded).
            ignore_index (int): left as is.
        """
        if self.index is None:
            return targets
        lut = torch.full((self.num_candidates,), ignore_index, dtype=torch.long,
                         device=targets.device)
        lut[self.index] = torch.arange(self.index.numel(), device=targets.device)
        valid = targets != ignore_index
        rows = torch.where(valid, lut[targets.clamp(min=0)], targets)
        if bool((rows[valid] == ignore_index).any()):
            raise RuntimeError('CandidateBatch.rows: a target is not among the encoded candidates')
        return rows

    def adjust(self, logits: Tensor) -> Tensor:
        """``logits`` ``(..., M)`` plus the per-row correction (if any)."""
        return logits if self.logit_offset is None else logits + self.logit_offset


def _world() -> tuple:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class CandidateTargets:
    """How a task's candidate set enters a training step (see the module docstring).

    Args:
        mode (str): ``'exact'`` (default, the paper's loss), ``'sampled'`` or ``'cached'``.
        shard (bool): split the whole-set encodings (``'exact'``; the no-gradient refresh of
            ``'cached'``) over the ranks and all-gather them.  Same result, 1/W of the cost; a
            cross-rank collective in the loss (unmixed sampling only).  Default False.
        num_samples (int): candidates drawn besides the positives (``'sampled'``, ``'cached'``).
        refresh_interval (int): ``'cached'``: recompute the whole set every this many calls.
        owner (str): config key of the owning task, for error messages.
    """

    def __init__(self, mode: str = 'exact', shard: bool = False, num_samples: int = 4096,
                 refresh_interval: int = 1, owner: str = 'candidates'):
        if mode not in MODES:
            raise ValueError(f'{owner}.mode must be one of {MODES}, got {mode!r}')
        if num_samples < 1 or refresh_interval < 1:
            raise ValueError(f'{owner}: num_samples and refresh_interval must be >= 1, got '
                             f'{num_samples}, {refresh_interval}')
        self.mode, self.shard = mode, shard
        self.num_samples, self.refresh_interval = num_samples, refresh_interval
        self.owner = owner
        self._cache: Optional[Tensor] = None
        self._calls = 0

    def collectives_in_loss(self) -> List[str]:
        """Config keys that make the loss enter a cross-rank collective (``shard``)."""
        return ['shard'] if self.shard and self.mode != 'sampled' else []

    # ------------------------------------------------------------------ whole set
    def encode_all(self, encode: Encoder, num: int, device: torch.device) -> Tensor:
        """All N embeddings (with gradient if enabled), sharded over ranks with ``shard``.

        Each rank encodes ``ceil(N / W)`` consecutive candidates (the last slice padded by
        repeating the last candidate, so every rank sends the same shape) and the slices are
        all-gathered with gradient (``all_gather_with_grad``: each slice's gradient returns to
        the rank that encoded it).
        """
        rank, world = _world()
        if not self.shard or world == 1:
            return encode(torch.arange(num, device=device))
        per = math.ceil(num / world)
        local = torch.arange(rank * per, (rank + 1) * per, device=device).clamp(max=num - 1)
        emb = encode(local)
        if torch.is_grad_enabled():
            return all_gather_with_grad(emb)[:num]
        parts = [torch.empty_like(emb) for _ in range(world)]
        dist.all_gather(parts, emb.contiguous())
        return torch.cat(parts)[:num]

    # ------------------------------------------------------------------ subsets
    def draw(self, num: int, positives: Tensor) -> Tensor:
        """The positives (unique, sorted) followed by up to ``num_samples`` other candidates
        drawn uniformly without replacement (torch's global generator, so a resumed run draws
        as the loop restores it).

        Args:
            num (int): N.
            positives (Tensor): candidate indices the batch's targets use (any shape; entries
                outside ``[0, N)`` are ignored).

        Returns:
            Tensor: ``(P + S,)`` candidate indices.
        """
        pos = positives.flatten()
        pos = torch.unique(pos[(pos >= 0) & (pos < num)])
        is_pos = torch.zeros(num, dtype=torch.bool, device=pos.device)
        is_pos[pos] = True
        rest = (~is_pos).nonzero().flatten()
        take = min(self.num_samples, rest.numel())
        drawn = rest[torch.randperm(rest.numel(), device=rest.device)[:take]]
        return torch.cat([pos, drawn])

    def batch(self, encode: Encoder, num: int, positives: Tensor) -> CandidateBatch:
        """The candidate embeddings of one training step.

        Args:
            encode (callable): ``encode(indices) -> (len(indices), C)`` embeddings (with
                gradient when autograd is on).
            num (int): N, the size of the whole set.
            positives (Tensor): candidate indices of the batch's targets (``-100`` = none).

        Returns:
            CandidateBatch: score with ``adjust(head(x, embeddings))`` against ``rows(targets)``.
        """
        device = positives.device
        if self.mode == 'exact':
            return CandidateBatch(self.encode_all(encode, num, device), num)
        idx = self.draw(num, positives)
        if self.mode == 'sampled':
            num_pos = int(torch.unique(positives[(positives >= 0) & (positives < num)]).numel())
            offset = torch.zeros(idx.numel(), device=device)
            drawn = idx.numel() - num_pos
            if drawn:
                offset[num_pos:] = math.log((num - num_pos) / drawn)
            if idx.numel() == num:  # the draw covers the whole set: the exact loss
                offset = None
            return CandidateBatch(encode(idx), num, index=idx, logit_offset=offset)
        # cached: whole set without gradient every refresh_interval calls, the drawn rows fresh
        if (self._cache is None or self._calls % self.refresh_interval == 0
                or self._cache.shape[0] != num or self._cache.device != device):
            with torch.no_grad():
                self._cache = self.encode_all(encode, num, device).detach()
        self._calls += 1
        fresh = encode(idx)
        emb = self._cache.to(fresh.dtype).index_put((idx,), fresh)
        return CandidateBatch(emb, num)

    def reset(self) -> None:
        """Forget the cached whole-set embeddings (``'cached'``)."""
        self._cache, self._calls = None, 0
