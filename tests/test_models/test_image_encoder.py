"""ImageEncoder: ImageTokens shapes, paddings, top-N selection, losses, reused assignment, grads."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.models.image_tokens import ImageTokens

from uniperceiver_v2.testing.detection import TINY_MASKDINO_CFG as TINY_CFG


def _sample(h, w, pad, num_gts):
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), batch_input_shape=pad, pad_shape=pad,
                                         ori_shape=(h, w), scale_factor=(1., 1.)))
    masks = torch.zeros(num_gts, h, w, dtype=torch.uint8)
    boxes = []
    for i in range(num_gts):
        masks[i, 4 + 8 * i:24 + 8 * i, 6:30] = 1
        boxes.append([6, 4 + 8 * i, 30, 24 + 8 * i])
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.arange(num_gts), masks=BitmapMasks(masks.numpy(), h, w))
    return sample


@pytest.fixture
def encoder():
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_CFG).image_encoder)
    model.init_weights()
    return model


@pytest.fixture
def batch():
    pad = (64, 96)
    samples = [_sample(64, 96, pad, 3), _sample(40, 60, pad, 0)]
    return torch.randn(2, 3, *pad), samples


def test_forward_shapes_and_paddings(encoder, batch):
    inputs, samples = batch
    encoder.eval()
    with torch.no_grad():
        tokens = encoder(inputs, samples)
    assert isinstance(tokens, ImageTokens) and tokens.proposal_gt_index is None
    # global: 1 attention pool + the 2x3 stride-32 map
    assert tokens.global_tokens.shape == (2, 7, 48)
    assert not tokens.global_padding_mask[0].any()
    # the 40x60 image covers 2x2 of the 2x3 map: the third column is padding
    assert tokens.global_padding_mask[1].tolist() == [False] + [False, False, True] * 2
    assert tokens.proposal_tokens.shape == (2, 8, 48)
    assert tokens.proposal_padding_mask.shape == (2, 8) and not tokens.proposal_padding_mask.any()
    assert tokens.proposal_boxes.shape == (2, 8, 4)
    assert tokens.proposal_mask_logits.shape == (2, 8, 16, 24)   # stride 4 of the padded batch
    assert tokens.proposal_query_index.shape == (2, 8)
    seq, mask = tokens.tokens()
    assert seq.shape == (2, 15, 48) and mask.shape == (2, 15)


def test_top_n_by_objectness_and_num_proposals(encoder, batch):
    inputs, samples = batch
    encoder.eval()
    with torch.no_grad():
        out = encoder.proposal_network.forward_proposals(
            encoder.proposal_network.extract_feat(inputs), samples)
        tokens = encoder(inputs, samples, num_proposals=5)
        all_tokens = encoder(inputs, samples, num_proposals=20)
    obj = tokens.proposal_objectness
    assert obj.shape == (2, 5) and (obj[:, :-1] >= obj[:, 1:]).all()
    expected = out['objectness'].topk(5, dim=1)
    torch.testing.assert_close(obj, expected.values)
    assert torch.equal(tokens.proposal_query_index, expected.indices)
    assert sorted(all_tokens.proposal_query_index[0].tolist()) == list(range(20))
    with pytest.raises(ValueError, match='num_proposals'):
        encoder(inputs, samples, num_proposals=21)


def test_loss_prefix_and_gt_index_reuse(encoder, batch):
    inputs, samples = batch
    tokens, losses = encoder.loss(inputs, samples, num_proposals=20)
    assert losses and all(k.startswith('proposal.') for k in losses)
    assert {'proposal.loss_cls', 'proposal.loss_mask', 'proposal.enc_loss_dice',
            'proposal.dn_loss_bbox', 'proposal.d0.loss_iou'} <= set(losses)
    gt_index = tokens.proposal_gt_index
    assert gt_index.shape == (2, 20) and gt_index.dtype == torch.long
    # with all queries kept, image 0 has each of its 3 gts matched exactly once, image 1 none
    assert sorted(gt_index[0][gt_index[0] >= 0].tolist()) == [0, 1, 2]
    assert (gt_index[1] == -1).all()


def test_gradients_flow_into_backbone_proposals_and_tokens(encoder, batch):
    inputs, samples = batch
    tokens, losses = encoder.loss(inputs, samples)
    (sum(losses.values()) + tokens.global_tokens.sum() + tokens.proposal_tokens.sum()).backward()
    params = dict(encoder.named_parameters())
    for name in ('proposal_network.backbone.conv1.conv.weight',
                 'proposal_network.backbone.conv2.conv.weight',
                 'proposal_network.encoder.layers.0.ffn.layers.0.0.weight',
                 'proposal_network.decoder.layers.1.ffn.layers.0.0.weight',
                 'proposal_network.bbox_head.mask_embed.layers.2.weight',
                 'global_tokens.attn.in_proj_weight', 'global_tokens.input_proj.weight',
                 'proposal_tokens.sem_proj.weight', 'proposal_tokens.box_proj.weight',
                 'proposal_tokens.mask_proj.weight'):
        assert params[name].grad is not None and params[name].grad.abs().sum() > 0, name


def test_missing_metainfo_is_reported(encoder, batch):
    inputs, samples = batch
    bare = [DetDataSample(metainfo=dict(img_shape=(64, 96))) for _ in samples]
    with pytest.raises(KeyError, match='batch_input_shape'):
        encoder(inputs, bare)


def test_proposal_checkpoint_survives_initialisation(tmp_path):
    """A standalone proposal network's checkpoint (stage 1) is what the encoder holds after
    init_weights - mmdet's DINO re-initialises its transformer after a Pretrained init_cfg."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY_CFG).image_encoder
    torch.manual_seed(1)
    standalone = MODELS.build(copy.deepcopy(cfg.proposal_network))  # mmdet edits its config
    standalone.init_weights()
    path = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=standalone.state_dict(), meta=dict()), path)
    torch.manual_seed(2)
    encoder = MODELS.build(dict(copy.deepcopy(cfg), proposal_checkpoint=path))
    encoder.init_weights()
    loaded = encoder.proposal_network.state_dict()
    for key, value in standalone.state_dict().items():
        assert torch.equal(loaded[key], value), key
    # a checkpoint saved from a DataParallel-wrapped detector ('module.' keys) loads the same
    wrapped = str(tmp_path / 'stage1_ddp.pth')
    torch.save(dict(state_dict={'module.' + k: v for k, v in standalone.state_dict().items()}),
               wrapped)
    torch.manual_seed(3)
    from_wrapped = MODELS.build(dict(copy.deepcopy(cfg), proposal_checkpoint=wrapped))
    from_wrapped.init_weights()
    for key, value in standalone.state_dict().items():
        assert torch.equal(from_wrapped.proposal_network.state_dict()[key], value), key
    # the naive way re-initialises the transformer: at least one tensor would differ
    torch.manual_seed(2)
    naive = MODELS.build(dict(cfg, proposal_network=dict(
        copy.deepcopy(cfg.proposal_network), init_cfg=dict(type='Pretrained', checkpoint=path))))
    naive.init_weights()
    assert any(not torch.equal(naive.proposal_network.state_dict()[k], v)
               for k, v in standalone.state_dict().items())


def test_proposal_checkpoint_errors_name_the_key(tmp_path):
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY_CFG).image_encoder
    encoder = MODELS.build(dict(copy.deepcopy(cfg),
                                proposal_checkpoint=str(tmp_path / 'missing.pth')))
    with pytest.raises(FileNotFoundError, match='model.image_encoder.proposal_checkpoint'):
        encoder.init_weights()
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'not_a_key': torch.zeros(1)}), path)
    with pytest.raises(KeyError, match='not_a_key'):
        MODELS.build(dict(copy.deepcopy(cfg), proposal_checkpoint=path)).init_weights()
    with pytest.raises(KeyError, match='proposal_checkpoint_skip.*no_such_module'):
        MODELS.build(dict(copy.deepcopy(cfg), proposal_checkpoint_skip=['no_such_module']))


def test_missing_proposal_checkpoint_names_stage1_config_and_skip_key(tmp_path):
    """The error tells how to make the stage-1 checkpoint (its config) and how to skip it."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY_CFG).image_encoder
    stage1 = 'configs/proposal_network/maskdino-proposal_r50_8xb2-50e_coco.py'
    encoder = MODELS.build(dict(copy.deepcopy(cfg), proposal_config=stage1,
                                proposal_checkpoint=str(tmp_path / 'epoch_50.pth')))
    with pytest.raises(FileNotFoundError) as error:
        encoder.init_weights()
    assert f'python tools/train.py {stage1}' in str(error.value)
    assert 'model.image_encoder.proposal_checkpoint=None' in str(error.value)


@pytest.mark.parametrize('roi_pool_size', [0, 2])
def test_roi_proposal_tokens_read_the_pixel_embedding(batch, roi_pool_size):
    """ProposalTokens.roi_pool_size: the encoder fills in pixel_dims and feeds the pixel
    embedding; the tokens' gradient reaches it only with the option (geometry is detached);
    off, the proposal tokens' state dict is Eq. 2's alone."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY_CFG).image_encoder
    cfg.proposal_tokens = dict(cfg.proposal_tokens, roi_pool_size=roi_pool_size)
    torch.manual_seed(0)
    encoder = MODELS.build(cfg)
    encoder.init_weights()
    keys = {k.split('.')[0] for k in encoder.proposal_tokens.state_dict()}
    assert keys == ({'sem_proj', 'box_proj', 'mask_proj'} | ({'roi_proj'} if roi_pool_size
                                                             else set()))
    inputs, samples = batch
    encoder.eval()
    tokens = encoder(inputs, samples)
    tokens.proposal_tokens.sum().backward()
    grads = [p.grad for p in encoder.proposal_network.pixel_embedding.parameters()]
    reached = any(g is not None and g.abs().sum() > 0 for g in grads)
    assert reached == bool(roi_pool_size)
    if roi_pool_size:
        mask_dims = encoder.proposal_network.bbox_head.mask_dims
        assert encoder.proposal_tokens.roi_proj.in_features == mask_dims * 2 * 2
        extent = encoder.pixel_inputs(torch.zeros(2, 1, 16, 24), samples)['image_extent']
        torch.testing.assert_close(extent, torch.tensor([[1.0, 1.0], [60 / 96, 40 / 64]]))
