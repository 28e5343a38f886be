"""GlobalTokens: paper Eq. 3, [M' attention pools ; flatten(F_L)], paddings, token cap."""
import pytest
import torch

from uniperceiver_v2.models.global_tokens import GlobalTokens


def test_shapes_and_padding():
    torch.manual_seed(0)
    module = GlobalTokens(in_channels=6, embed_dims=8, num_pools=2, num_heads=2)
    feat = torch.randn(2, 6, 3, 4)
    pad = torch.zeros(2, 3, 4, dtype=torch.bool)
    pad[1, :, 3:] = True
    tokens, mask = module(feat, pad)
    assert tokens.shape == (2, 2 + 12, 8) and mask.shape == (2, 14)
    assert not mask[:, :2].any()                     # pools are never padding
    assert torch.equal(mask[:, 2:], pad.flatten(1))


def test_pools_ignore_padding_and_flattened_tokens_follow_eq3():
    torch.manual_seed(0)
    module = GlobalTokens(in_channels=4, embed_dims=8, num_pools=1, num_heads=2).eval()
    feat = torch.randn(1, 4, 2, 3)
    pad = torch.tensor([[[False, False, True], [False, False, True]]])
    changed = feat.clone()
    changed[..., 2] = 100.0                            # only padded positions differ
    a, _ = module(feat, pad)
    b, _ = module(changed, pad)
    torch.testing.assert_close(a[:, 0], b[:, 0])      # the pool only sees valid positions
    # flattened tokens = Linear(F_L) + sine position encoding, in row-major order
    pos = module.positional_encoding(pad)
    proj = module.input_proj(feat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) + pos
    torch.testing.assert_close(a[0, 1:], proj.flatten(2)[0].T)


def test_max_tokens_masked_average_pooling():
    module = GlobalTokens(in_channels=2, embed_dims=4, num_pools=0, num_heads=1, max_tokens=4)
    with torch.no_grad():
        module.input_proj.weight.copy_(torch.tensor([[1., 0.], [0., 1.], [0., 0.], [0., 0.]]))
        module.input_proj.bias.zero_()
    feat = torch.arange(2 * 16, dtype=torch.float32).reshape(1, 2, 4, 4)
    pad = torch.zeros(1, 4, 4, dtype=torch.bool)
    pad[0, :, 3] = True
    tokens, mask = module(feat, pad)
    assert tokens.shape == (1, 4, 4) and not mask.any()
    pos = module.positional_encoding(torch.zeros(1, 2, 2, dtype=torch.bool))
    values = tokens[0, :, :2] - pos.flatten(2)[0].T[:, :2]
    # top-right 2x2 block has one valid column: its average is that column only
    expected_tr = feat[0, :, 0:2, 2].mean(-1)
    torch.testing.assert_close(values[1], expected_tr)
    torch.testing.assert_close(values[0], feat[0, :, 0:2, 0:2].mean((-1, -2)))


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match='num_heads'):
        GlobalTokens(in_channels=4, embed_dims=6, num_heads=4)
    module = GlobalTokens(in_channels=4, embed_dims=8, num_heads=2)
    with pytest.raises(ValueError, match='padding_mask'):
        module(torch.randn(1, 4, 2, 2), torch.zeros(1, 3, 3, dtype=torch.bool))
