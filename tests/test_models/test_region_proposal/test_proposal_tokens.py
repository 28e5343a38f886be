"""ProposalTokens: paper Eq. 2, q = Proj(q_sem) + B(q_box) + M(q_mask)."""
import math

import pytest
import torch

from uniperceiver_v2.models.region_proposal.proposal_tokens import ProposalTokens


def test_box_encoding_matches_direct_formula_in_xywh_order():
    """mmdet's coordinate_to_encoding, channels in (cx, cy, w, h) order as before the switch, so
    trained box projections keep their meaning."""
    boxes = torch.tensor([[0.25, 0.5, 0.1, 0.9]])
    num_feats, temp = 8, 10000.
    module = ProposalTokens(in_dims=4, embed_dims=4, box_num_feats=num_feats)
    emb = module.box_encoding(boxes[None])[0]
    expected = []
    for x in boxes[0].tolist():
        for k in range(num_feats):
            arg = 2 * math.pi * x / temp ** (2 * (k // 2) / num_feats)
            expected.append(math.sin(arg) if k % 2 == 0 else math.cos(arg))
    torch.testing.assert_close(emb[0], torch.tensor(expected), atol=1e-6, rtol=1e-5)


def test_eq2_against_hand_computation():
    torch.manual_seed(0)
    module = ProposalTokens(in_dims=6, embed_dims=5, mask_pool_size=4, box_num_feats=4)
    q_sem = torch.randn(2, 3, 6)
    q_box = torch.rand(2, 3, 4)
    q_mask = torch.randn(2, 3, 8, 8)
    out = module(q_sem, q_box, q_mask)
    assert out.shape == (2, 3, 5)
    # hand computation for every proposal: 2x2 block means (8 -> 4), explicit sine encoding
    for b in range(2):
        for n in range(3):
            pooled = q_mask[b, n].reshape(4, 2, 4, 2).mean(dim=(1, 3)).flatten()
            sine = []
            for x in q_box[b, n].tolist():
                for k in range(4):
                    arg = 2 * math.pi * x / 10000 ** (2 * (k // 2) / 4)
                    sine.append(math.sin(arg) if k % 2 == 0 else math.cos(arg))
            sine = torch.tensor(sine)
            expected = (module.sem_proj.weight @ q_sem[b, n] + module.sem_proj.bias
                        + module.box_proj.weight @ sine + module.box_proj.bias
                        + module.mask_proj.weight @ pooled + module.mask_proj.bias)
            torch.testing.assert_close(out[b, n], expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('detach', [True, False])
def test_detach_geometry(detach):
    module = ProposalTokens(in_dims=4, embed_dims=4, mask_pool_size=2, box_num_feats=2,
                            detach_geometry=detach)
    q_sem = torch.randn(1, 2, 4, requires_grad=True)
    q_box = torch.rand(1, 2, 4, requires_grad=True)
    q_mask = torch.randn(1, 2, 4, 4, requires_grad=True)
    module(q_sem, q_box, q_mask).sum().backward()
    assert q_sem.grad is not None
    assert (q_box.grad is None) == detach and (q_mask.grad is None) == detach


def test_shape_errors_are_clear():
    module = ProposalTokens(in_dims=4, embed_dims=4)
    with pytest.raises(ValueError, match='ProposalTokens'):
        module(torch.randn(1, 2, 4), torch.rand(1, 3, 4), torch.randn(1, 2, 4, 4))
