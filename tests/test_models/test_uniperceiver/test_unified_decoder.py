"""UnifiedDecoder: masks, <SPE>, incremental decoding == full decoding."""
import torch

from uniperceiver_v2.models.unified_decoder import UnifiedDecoder


def make_decoder(**kw):
    torch.manual_seed(0)
    cfg = dict(embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=64,
               moe=dict(num_experts=4, top_k=2))
    cfg.update(kw)
    return UnifiedDecoder(**cfg).eval()


SEGS = [('caption_image_global', 4), ('caption_text', 5)]


def test_future_tokens_do_not_change_earlier_outputs():
    dec = make_decoder()
    x = torch.randn(2, 9, 32)
    out = dec(x, SEGS, causal_start=1 + 4)
    y = x.clone()
    y[:, 7] = torch.randn(2, 32)  # perturb a future caption token (full-sequence position 8)
    out2 = dec(y, SEGS, causal_start=5)
    assert out.shape == (2, 10, 32)
    assert torch.allclose(out[:, :8], out2[:, :8], atol=1e-5)  # <SPE>, image, text before it
    assert not torch.allclose(out[:, 8:], out2[:, 8:])
    # bidirectional without causal_start: everything changes
    assert not torch.allclose(dec(x, SEGS)[:, 1], dec(y, SEGS)[:, 1])


def test_padding_is_ignored():
    dec = make_decoder()
    x = torch.randn(1, 6, 32)
    pad = torch.tensor([[False, False, False, False, True, True]])
    out = dec(x, [('image_global', 6)], pad)
    x2 = x.clone()
    x2[:, 4:] = torch.randn(1, 2, 32) * 100
    assert torch.allclose(out[:, :5], dec(x2, [('image_global', 6)], pad)[:, :5], atol=1e-5)
    assert torch.allclose(out[:, :5], dec(x[:, :4], [('image_global', 4)])[:, :5], atol=1e-5)


def test_incremental_decoding_equals_full_decoding():
    dec = make_decoder()
    B, G, L = 2, 4, 5
    x = torch.randn(B, G + L, 32)
    pad = torch.zeros(B, G + L, dtype=torch.bool)
    pad[1, 3] = True  # one padded image token
    full = dec(x, SEGS, pad, causal_start=1 + G)
    out, cache = dec(x[:, :G + 1], [('caption_image_global', G), ('caption_text', 1)], pad[:, :G + 1],
                     causal_start=1 + G, use_cache=True)
    steps = [out]
    for t in range(G + 1, G + L):
        o, cache = dec(x[:, t:t + 1], [('caption_text', 1)], pad[:, t:t + 1], cache=cache,
                       use_cache=True)
        steps.append(o)
    inc = torch.cat(steps, 1)
    assert torch.allclose(inc, full, atol=1e-5)
    # cache reordering for beam search
    re = cache.index_select(torch.tensor([1, 1, 0]))
    assert re.keys[0].shape[0] == 3 and torch.equal(re.padding_mask[0], cache.padding_mask[1])


def test_moe_layers_config_and_sdpa_matches_manual_attention():
    dec = make_decoder(moe_layers=[1], num_layers=2)
    assert type(dec.layers[0].ffn).__name__ == 'DenseFFN'
    assert type(dec.layers[1].ffn).__name__ == 'AttributeMoEFFN'
    dense = make_decoder(moe=None, num_layers=1)
    layer = dense.layers[0]
    x = torch.randn(1, 3, 32)
    h = layer.norm1(x)
    q, k, v = layer.qkv(h).view(1, 3, 3, 4, 8).permute(2, 0, 3, 1, 4)
    a = ((q @ k.transpose(-1, -2)) / 8 ** 0.5).softmax(-1) @ v
    ref = x + layer.proj(a.transpose(1, 2).reshape(1, 3, 32))
    ref = ref + layer.ffn(layer.norm2(ref), None)
    out, _ = layer(x, [('text_input', 3)], None)
    assert torch.allclose(out, ref, atol=1e-5)
