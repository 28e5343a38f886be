"""UnifiedLikelihoodHead: cos/τ logits, per-family temperature, clamp, target cache invalidation."""
import math

import pytest
import torch
import torch.nn as nn

from uniperceiver_v2.models.likelihood_head import UnifiedLikelihoodHead


def test_logits_equal_cosine_over_temperature():
    head = UnifiedLikelihoodHead(families=('a', 'b'))
    x, y = torch.randn(3, 8), torch.randn(5, 8)
    cos = torch.stack([torch.stack([torch.dot(xi, yj) / (xi.norm() * yj.norm()) for yj in y])
                       for xi in x])
    assert torch.allclose(head(x, y, 'a'), cos / 0.07, atol=1e-4)
    # P(x, y) ∝ exp(cos / τ)
    p = torch.exp(cos / 0.07)
    assert torch.allclose(head(x, y, 'a').softmax(-1), p / p.sum(-1, keepdim=True), atol=1e-5)
    with torch.no_grad():
        head.logit_scales['b'].fill_(math.log(1000.0))
    assert torch.allclose(head(x, y, 'b'), cos * 100.0, atol=1e-3)  # clamped at 100
    with pytest.raises(KeyError, match='families'):
        head(x, y, 'c')


def test_target_cache_reused_and_invalidated_by_optimizer_step():
    head = UnifiedLikelihoodHead(families=('a',)).eval()
    enc = nn.Linear(4, 4)
    names = torch.randn(3, 4)
    calls = []

    def compute():
        calls.append(1)
        return enc(names)

    with torch.no_grad():
        e1 = head.cached_targets(('names',), compute, enc.parameters())
        e2 = head.cached_targets(('names',), compute, enc.parameters())
    assert len(calls) == 1 and e1 is e2
    # a training step changes the weights -> recomputed with the new weights
    opt = torch.optim.SGD(enc.parameters(), lr=0.1)
    enc(names).sum().backward()
    opt.step()
    with torch.no_grad():
        e3 = head.cached_targets(('names',), compute, enc.parameters())
    assert len(calls) == 2 and not torch.allclose(e1, e3)
    assert torch.allclose(e3, enc(names).detach())
    # load_state_dict also invalidates
    enc.load_state_dict({k: v * 2 for k, v in enc.state_dict().items()})
    with torch.no_grad():
        head.cached_targets(('names',), compute, enc.parameters())
    assert len(calls) == 3
    # in training (or with grad) nothing is cached: gradients must flow
    head.train()
    out = head.cached_targets(('names',), compute, enc.parameters())
    assert out.requires_grad and len(calls) == 4
