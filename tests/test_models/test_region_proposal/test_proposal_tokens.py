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


EQ2_KEYS = {f'{name}.{p}' for name in ('sem_proj', 'box_proj', 'mask_proj')
            for p in ('weight', 'bias')}


def test_roi_option_off_keeps_the_eq2_state_dict():
    module = ProposalTokens(in_dims=6, embed_dims=5, mask_pool_size=4, box_num_feats=4)
    assert set(module.state_dict()) == EQ2_KEYS and not module.uses_pixel_features
    # pixel features are ignored when the option is off
    q = (torch.randn(1, 2, 6), torch.rand(1, 2, 4), torch.randn(1, 2, 8, 8))
    torch.testing.assert_close(module(*q), module(*q, pixel_features=torch.randn(1, 3, 4, 4)))


def test_roi_term_pools_the_box_inside_the_image_extent():
    """The box is normalised w.r.t. the image, which covers the left half of the padded map:
    pooling must read the left half only."""
    module = ProposalTokens(in_dims=2, embed_dims=3, mask_pool_size=2, box_num_feats=2,
                            roi_pool_size=2, pixel_dims=2)
    assert set(module.state_dict()) == EQ2_KEYS | {'roi_proj.weight', 'roi_proj.bias'}
    pixels = torch.zeros(1, 2, 8, 8)
    pixels[0, 0, :, :4] = 1.0                       # channel 0: the left half
    pixels[0, 1] = torch.arange(8.0)[:, None]       # channel 1: the row index
    whole_image = torch.tensor([[[0.5, 0.5, 1.0, 1.0]]])
    left = module.roi_features(pixels, whole_image, torch.tensor([[0.5, 1.0]]))
    assert left.shape == (1, 1, 2 * 2 * 2)
    torch.testing.assert_close(left[0, 0, :4], torch.ones(4))
    torch.testing.assert_close(left[0, 0, 4:], torch.tensor([1.5, 1.5, 5.5, 5.5]))
    full = module.roi_features(pixels, whole_image, torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(full[0, 0, :4], torch.tensor([1.0, 0.0, 1.0, 0.0]))
    # the token adds roi_proj of the pooled features to Eq. 2
    q_sem, q_mask = torch.randn(1, 1, 2), torch.randn(1, 1, 4, 4)
    plain = ProposalTokens(in_dims=2, embed_dims=3, mask_pool_size=2, box_num_feats=2)
    plain.load_state_dict({k: v for k, v in module.state_dict().items() if k in EQ2_KEYS})
    out = module(q_sem, whole_image, q_mask, pixel_features=pixels,
                 image_extent=torch.tensor([[0.5, 1.0]]))
    torch.testing.assert_close(out, plain(q_sem, whole_image, q_mask) + module.roi_proj(left))


def test_roi_term_gradients_reach_the_pixels_not_the_box():
    module = ProposalTokens(in_dims=4, embed_dims=4, mask_pool_size=2, box_num_feats=2,
                            roi_pool_size=3, pixel_dims=5)
    pixels = torch.randn(2, 5, 8, 12, requires_grad=True)
    q_box = (torch.rand(2, 3, 4) * 0.4 + 0.3).requires_grad_()
    module(torch.randn(2, 3, 4), q_box, torch.randn(2, 3, 4, 4),
           pixel_features=pixels).sum().backward()
    assert pixels.grad.abs().sum() > 0 and module.roi_proj.weight.grad.abs().sum() > 0
    assert q_box.grad is None or not q_box.grad.any()
    with pytest.raises(ValueError, match='pixel_features'):
        module(torch.randn(1, 1, 4), torch.rand(1, 1, 4), torch.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match='pixel_dims'):
        ProposalTokens(in_dims=4, embed_dims=4, roi_pool_size=3)
