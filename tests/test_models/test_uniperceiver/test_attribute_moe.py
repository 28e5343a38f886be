"""AttributeMoEFFN: merged experts equal the explicit mixture; routing is per segment."""
import pytest
import torch
import torch.nn.functional as F

from uniperceiver_v2.models.attributes import (NUM_ATTRIBUTE_BITS, TOKEN_ATTRIBUTES, Attribute,
                                               TokenKind, attribute_tensor, attribute_vector)
from uniperceiver_v2.models.moe import AttributeMoEFFN


def explicit_linear_mixture(x, gates, w, b):
    """sum_i g_i (x W_i^T + b_i) with one explicit output per expert."""
    return sum(g * (x @ w[i].t() + b[i]) for i, g in enumerate(gates) if g != 0)


def test_merged_linear_equals_explicit_mixture():
    torch.manual_seed(0)
    moe = AttributeMoEFFN(16, 24, num_experts=4, top_k=2).double()
    x = torch.randn(3, 5, 16, dtype=torch.double)
    gates = moe.router.dense_gates(['caption_text'])[0].double()
    assert (gates > 0).sum() == 2 and torch.allclose(gates.sum(), torch.tensor(1.).double())
    w1, b1, w2, b2 = moe.merged_weights(['caption_text'])
    # each merged linear layer == explicit mixture of the experts' outputs
    assert torch.allclose(x @ w1[0].t() + b1[0], explicit_linear_mixture(x, gates, moe.w1, moe.b1))
    h = F.gelu(x @ w1[0].t() + b1[0])
    assert torch.allclose(h @ w2[0].t() + b2[0], explicit_linear_mixture(h, gates, moe.w2, moe.b2))
    # the whole FFN: explicit mixture in both layers with the segment's gates
    expected = explicit_linear_mixture(
        F.gelu(explicit_linear_mixture(x, gates, moe.w1, moe.b1)), gates, moe.w2, moe.b2)
    out = moe(x, [('caption_text', 5)])
    assert torch.allclose(out, expected)


def test_router_gates_follow_paper_definition():
    """Linear(8->d) + LayerNorm -> gate -> top-k -> renormalised softmax, in fp32."""
    torch.manual_seed(0)
    moe = AttributeMoEFFN(16, 24, num_experts=6, top_k=2)
    r = moe.router
    kinds = ['image_global', 'vocabulary_target']
    attr = attribute_tensor(kinds)
    logits = F.layer_norm(attr @ r.attr_proj.weight.t() + r.attr_proj.bias, (16,),
                          r.attr_norm.weight, r.attr_norm.bias) @ r.gate.weight.t()
    probs = logits.softmax(-1)
    top, idx = probs.topk(2, -1)
    got_idx, got_g = r(kinds)
    assert got_g.dtype == torch.float32
    assert torch.equal(got_idx, idx)
    assert torch.allclose(got_g, top / top.sum(-1, keepdim=True), atol=1e-6)


def test_routing_identical_within_segment_and_segments_independent():
    torch.manual_seed(0)
    moe = AttributeMoEFFN(16, 24, num_experts=4, top_k=1)
    x = torch.randn(2, 7, 16)
    segs = [('image_global', 3), ('caption_text', 4)]
    out = moe(x, segs)
    # every token of a segment gets exactly the FFN of its kind alone
    assert torch.allclose(out[:, :3], moe(x[:, :3], [('image_global', 3)]), atol=1e-6)
    assert torch.allclose(out[:, 3:], moe(x[:, 3:], [('caption_text', 4)]), atol=1e-6)
    # per-token computation: each token alone gives the same output as in its segment
    for t in range(7):
        kind = 'image_global' if t < 3 else 'caption_text'
        assert torch.allclose(out[:, t:t + 1], moe(x[:, t:t + 1], [(kind, 1)]), atol=1e-6)


def test_gate_noise_only_in_training():
    moe = AttributeMoEFFN(8, 8, num_experts=4, top_k=2, gate_noise_std=1.0)
    moe.eval()
    a = moe.router(['text_input'])[1]
    b = moe.router(['text_input'])[1]
    assert torch.equal(a, b)


#: the router inputs of every kind as trained so far: a change would silently re-route checkpoints
ROUTER_INPUTS = {
    'image_global': (1, 0, 1, 0, 0, 0, 0, 0),
    'image_proposal': (1, 0, 0, 1, 0, 0, 0, 0),
    'caption_image_global': (1, 1, 1, 0, 0, 0, 0, 0),
    'caption_image_proposal': (1, 1, 0, 1, 0, 0, 0, 0),
    'caption_text': (1, 1, 0, 0, 1, 0, 1, 0),
    'text_input': (0, 1, 0, 0, 1, 0, 0, 0),
    'retrieval_text': (0, 1, 0, 0, 1, 1, 0, 0),
    'class_name_target': (0, 1, 0, 0, 1, 1, 0, 0),
    'vocabulary_target': (0, 1, 0, 0, 1, 1, 0, 1),
}


def test_typed_table_gives_the_trained_router_inputs():
    assert NUM_ATTRIBUTE_BITS == 8 and set(TOKEN_ATTRIBUTES) == set(TokenKind)
    for name, bits in ROUTER_INPUTS.items():
        assert attribute_vector(name) == bits == attribute_vector(TokenKind(name))
    assert TokenKind.CAPTION_TEXT.attributes & Attribute.CAUSAL
    assert TokenKind.IMAGE_GLOBAL == 'image_global'  # plain names and members are one key
    assert attribute_tensor([TokenKind.TEXT_INPUT, 'text_input']).tolist()[0] == \
        attribute_tensor(['text_input']).tolist()[0]


def test_every_kind_has_8_bits_and_errors():
    assert attribute_tensor(list(TokenKind)).shape == (len(TokenKind), 8)
    with pytest.raises(KeyError, match='attributes.py'):
        attribute_tensor(['no_such_kind'])
    moe = AttributeMoEFFN(8, 8, num_experts=2, top_k=1)
    with pytest.raises(ValueError, match='segments'):
        moe(torch.randn(1, 3, 8), [('text_input', 2)])
    with pytest.raises(ValueError, match='top_k'):
        AttributeMoEFFN(8, 8, num_experts=2, top_k=3)


def test_merged_weights_cached_at_inference_and_invalidated_by_update():
    torch.manual_seed(0)
    moe = AttributeMoEFFN(8, 16, num_experts=4, top_k=2)
    x = torch.randn(2, 5, 8)
    segs = [('image_global', 3), ('caption_text', 2)]
    train_out = moe(x, segs)  # training mode: merged every call, differentiable
    moe.eval()
    with torch.no_grad():
        a = moe(x, segs)
        first = moe.merged_weights(['image_global', 'caption_text'])
        assert moe.merged_weights(['image_global', 'caption_text']) is first  # cached
        assert torch.allclose(a, train_out, atol=1e-6)
    opt = torch.optim.SGD(moe.parameters(), lr=0.5)
    moe.train()
    moe(x, segs).sum().backward()
    opt.step()
    moe.eval()
    with torch.no_grad():
        again = moe.merged_weights(['image_global', 'caption_text'])
        assert again is not first and not torch.allclose(again[0], first[0])
        moe.train()
        fresh = moe.merged_weights(['image_global', 'caption_text'])
    assert torch.allclose(again[0], fresh[0])
