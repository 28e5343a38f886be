"""``with_cp=True`` (activation checkpointing) in the unified decoder and the text encoder: the same
outputs and gradients as without, and the layers really are recomputed in the backward pass."""
import copy

import torch
from mmdet.registry import MODELS

from conftest import tiny_text_encoder_cfg
from uniperceiver_v2.models.unified_decoder import UnifiedDecoder

SEGS = [('caption_image_global', 4), ('caption_text', 5)]


def count_calls(modules):
    calls = [0]
    for m in modules:
        m.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def run(model, fn):
    """Forward with a fixed seed (dropout / gate noise), backward of a fixed random projection."""
    torch.manual_seed(1)
    out = fn(model)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    (out * weight).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                          if p.grad is not None}


def assert_same(ref, cp):
    torch.testing.assert_close(cp[0], ref[0], rtol=0, atol=1e-6)
    assert ref[1].keys() == cp[1].keys() and ref[1]
    for name in ref[1]:
        torch.testing.assert_close(cp[1][name], ref[1][name], rtol=1e-5, atol=1e-6, msg=name)


def test_decoder_with_cp_same_outputs_and_gradients():
    torch.manual_seed(0)
    # dropout and gate noise draw random numbers: the recomputation must replay them
    plain = UnifiedDecoder(embed_dims=32, num_layers=3, num_heads=4, feedforward_channels=64,
                           moe=dict(num_experts=4, top_k=2, gate_noise_std=0.5), dropout=0.1)
    cp = copy.deepcopy(plain)
    cp.with_cp = True
    x = torch.randn(2, 9, 32)
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[1, -2:] = True

    def fn(m):
        return m(x, SEGS, pad, causal_start=5)

    plain.train(), cp.train()
    ref = run(plain, fn)
    calls = count_calls(cp.layers)
    out = run(cp, fn)
    assert calls[0] == 2 * len(cp.layers)  # forward + recomputation in backward
    assert_same(ref, out)
    # evaluation and incremental decoding never checkpoint
    cp.eval()
    calls[0] = 0
    with torch.no_grad():
        cp(x, SEGS, pad, causal_start=5, use_cache=True)
    assert calls[0] == len(cp.layers)


def test_text_encoder_with_cp_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = MODELS.build(tiny_text_encoder_cfg())
    torch.manual_seed(0)
    cp = MODELS.build(dict(tiny_text_encoder_cfg(), with_cp=True))
    cp.load_state_dict(plain.state_dict())
    assert cp.model.is_gradient_checkpointing and not plain.model.is_gradient_checkpointing
    ids, att = plain.tokenize(['a red circle to the left', 'two blue squares'])
    for causal in (False, True):
        plain.zero_grad(), cp.zero_grad()
        plain.train(), cp.train()
        ref = run(plain, lambda m: m(ids, att, causal=causal))
        calls = count_calls([cp.model.encoder.layer[0]])
        out = run(cp, lambda m: m(ids, att, causal=causal))
        assert calls[0] == 2
        assert_same(ref, out)
