"""Unified likelihood head (paper Eq. 1: P(x, y) ∝ exp(cos(g(f(x)), g(f(y))) / τ)).

    P(x, y) ∝ exp(cos(g(f(x)), g(f(y))) / τ),      ŷ = argmax_{y ∈ Y} P(x, y)

with one learnable temperature per task family [v1-code]: ``logit_scale = log(1/τ)`` initialised at
``log(1/0.07)``, and ``exp(logit_scale)`` clamped at 100.

Target embeddings that do not depend on the input (class names, the caption vocabulary) are
computed once at evaluation and cached until the weights they depend on change
(:class:`~uniperceiver_v2.models.weight_cache.WeightVersionCache`, the mechanism of all the
model's caches).
"""
import math
from typing import Callable, Hashable, Iterable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from .weight_cache import WeightVersionCache


@MODELS.register_module()
class UnifiedLikelihoodHead(BaseModule):
    """Cosine logits with a learnable temperature per task family, plus a target cache.

    Args:
        families (Sequence[str]): task families with their own temperature (e.g.
            ``('classification', 'retrieval', 'captioning', 'detection', 'mlm')``).
        init_temperature (float): τ at initialisation (default 0.07).
        max_logit_scale (float): clamp of ``1/τ`` (default 100).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, families: Sequence[str] = ('classification', 'retrieval', 'captioning',
                                                  'detection', 'mlm'),
                 init_temperature: float = 0.07, max_logit_scale: float = 100.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not families:
            raise ValueError('UnifiedLikelihoodHead: `families` must not be empty')
        self.max_logit_scale = max_logit_scale
        self.logit_scales = nn.ParameterDict({
            f: nn.Parameter(torch.tensor(math.log(1.0 / init_temperature))) for f in families})
        self.target_cache = WeightVersionCache()

    def scale(self, family: str) -> Tensor:
        """``1/τ`` of ``family``, clamped at ``max_logit_scale``."""
        if family not in self.logit_scales:
            raise KeyError(f'UnifiedLikelihoodHead: unknown task family {family!r}; configured: '
                           f'{list(self.logit_scales)} (config key model.likelihood_head.families)')
        return self.logit_scales[family].exp().clamp(max=self.max_logit_scale)

    def forward(self, x: Tensor, y: Tensor, family: str) -> Tensor:
        """Logits ``cos(x, y) / τ``.

        Args:
            x (Tensor): ``(..., N, C)`` input representations g(f(x)).
            y (Tensor): ``(M, C)`` candidate representations g(f(y)).
            family (str): task family (selects τ).

        Returns:
            Tensor: ``(..., N, M)`` logits; ``softmax`` over the last dim is P(x, y).
        """
        x = F.normalize(x.float(), dim=-1)
        y = F.normalize(y.float(), dim=-1)
        return self.scale(family) * x @ y.t()

    def cached_targets(self, key: Hashable, compute: Callable[[], Tensor],
                       params: Iterable[Tensor]) -> Tensor:
        """Target embeddings: cached when not training and grad is off, else computed fresh.

        Args:
            key (Hashable): what the targets are (e.g. ``('class_names', names)``).
            compute (callable): returns the ``(M, C)`` embeddings.
            params (Iterable[Tensor]): the parameters the embeddings depend on.
        """
        if self.training or torch.is_grad_enabled():
            return compute()
        return self.target_cache.get(key, lambda: compute().detach(), params)
