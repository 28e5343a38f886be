"""GroundingTask: CE over the proposals against the best-IoU proposal vs. a direct computation,
samples without a match left out, the chosen box back in original pixels, and mmpretrain's
VisualGroundingMetric on the predictions."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.evaluation import VisualGroundingMetric
from mmpretrain.structures import DataSample

FAMILIES = ('classification', 'retrieval', 'captioning', 'detection', 'mlm', 'grounding')
TEXTS = ['the red circle', 'the small blue star to the left of the green square']


def ground_model(build_model, **task_kw):
    task = dict(type='GroundingTask', **task_kw)
    return build_model(dict(ground=task),
                       likelihood_head=dict(type='UnifiedLikelihoodHead',
                                            families=FAMILIES)).eval()


def samples(boxes, scale=0.5):
    """Images of 64 px resized from 128 px (scale 0.5); ``boxes`` in original pixels."""
    out = []
    for text, box in zip(TEXTS, boxes):
        ds = DataSample(text=text, gt_bboxes=torch.tensor([box], dtype=torch.float32).numpy())
        ds.set_metainfo(dict(img_shape=(64, 64), ori_shape=(int(64 / scale),) * 2,
                             scale_factor=(scale, scale), batch_input_shape=(64, 64)))
        out.append(ds)
    return out


def iou(a, b):
    """IoU of two xyxy boxes, written out."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@torch.no_grad()
def direct_logits(model, images):
    """cos(g(expression)_SPE, g(image)_proposal_n) / τ_grounding, written out."""
    tokens = model.image_encoder(images)
    n = tokens.proposal_tokens.shape[1]
    task = model.tasks['ground']
    decoded = model.decoder(*task.image_sequence(tokens)[:1],
                            task.image_sequence(tokens)[2],
                            task.image_sequence(tokens)[1])[:, -n:]
    feats, _, padding = model.text_encoder.encode(TEXTS)
    x = model.decoder(feats, [('text_input', feats.shape[1])], padding)[:, 0]
    scale = model.likelihood_head.logit_scales['grounding'].exp()
    logits = torch.stack([F.cosine_similarity(x[b][None], decoded[b], dim=-1)
                          for b in range(len(TEXTS))]) * scale
    return tokens, logits


def test_loss_is_ce_against_the_best_iou_proposal(build_model, images):
    model = ground_model(build_model)
    tokens, logits = direct_logits(model, images)
    # referred boxes: around proposal 1 of image 0 and proposal 2 of image 1 (original pixels)
    boxes = []
    for b, n in ((0, 1), (1, 2)):
        cx, cy, w, h = tokens.proposal_boxes[b, n].tolist()
        boxes.append([(cx - w / 2) * 128, (cy - h / 2) * 128, (cx + w / 2) * 128,
                      (cy + h / 2) * 128])
    targets = []
    for b, box in enumerate(boxes):
        props = [[(cx - w / 2) * 64, (cy - h / 2) * 64, (cx + w / 2) * 64, (cy + h / 2) * 64]
                 for cx, cy, w, h in tokens.proposal_boxes[b].tolist()]
        gt = [v * 0.5 for v in box]  # original -> input pixels
        targets.append(max(range(len(props)), key=lambda n: iou(props[n], gt)))
    assert targets == [1, 2]
    expected = F.cross_entropy(logits, torch.tensor(targets))
    losses = model.tasks['ground'].loss(model, images, samples(boxes))
    assert torch.allclose(losses['loss_grounding'], expected, atol=1e-5)
    assert float(losses['ground_acc']) == float(
        (logits.argmax(1) == torch.tensor(targets)).float().mean())
    losses['loss_grounding'].backward()
    assert model.likelihood_head.logit_scales['grounding'].grad is not None
    assert model.likelihood_head.logit_scales['detection'].grad is None


def test_samples_without_a_matching_proposal_are_left_out(build_model, images):
    model = ground_model(build_model, min_match_iou=0.9)
    tokens, logits = direct_logits(model, images)
    cx, cy, w, h = tokens.proposal_boxes[0, 0].tolist()
    exact = [(cx - w / 2) * 128, (cy - h / 2) * 128, (cx + w / 2) * 128, (cy + h / 2) * 128]
    far = [0.0, 0.0, 1.0, 1.0]  # no proposal covers it at IoU 0.9
    losses = model.tasks['ground'].loss(model, images, samples([exact, far]))
    assert torch.allclose(losses['loss_grounding'],
                          F.cross_entropy(logits[:1], torch.tensor([0])), atol=1e-5)
    none = model.tasks['ground'].loss(model, images, samples([far, far]))
    assert float(none['loss_grounding'].detach()) == 0.0 and none['loss_grounding'].requires_grad


def test_predict_returns_the_most_likely_proposal_in_original_pixels(build_model, images):
    model = ground_model(build_model)
    tokens, logits = direct_logits(model, images)
    data = samples([[0, 0, 10, 10], [0, 0, 10, 10]])
    with torch.no_grad():
        out = model.tasks['ground'].predict(model, images, data)
    metric = VisualGroundingMetric()
    for b, ds in enumerate(out):
        n = int(logits[b].argmax())
        cx, cy, w, h = tokens.proposal_boxes[b, n].tolist()
        expected = torch.tensor([[max(cx - w / 2, 0) * 128, max(cy - h / 2, 0) * 128,
                                  min(cx + w / 2, 1) * 128, min(cy + h / 2, 1) * 128]])
        assert torch.allclose(ds.pred_bboxes, expected, atol=1e-4)
        assert int(ds.pred_instances.proposal) == n
        assert torch.allclose(ds.pred_score, logits[b].softmax(-1), atol=1e-5)
        assert ds.pred_instances.masks.shape == (1, 128, 128)
        ds.gt_bboxes = ds.pred_bboxes.numpy()  # the metric's contract: pred vs gt boxes
    metric.process(None, [ds.to_dict() for ds in out])
    assert float(metric.compute_metrics(metric.results)['acc']) == 1.0


def test_clear_errors(build_model, images):
    model = ground_model(build_model)
    data = samples([[0, 0, 10, 10], [0, 0, 10, 10]])
    del data[1].gt_bboxes
    with pytest.raises(KeyError, match='gt_bboxes'):
        model.tasks['ground'].loss(model, images, data)
    with pytest.raises(ValueError, match='one expression per sample'):
        model.tasks['ground'].predict(model, images, data, texts=['a'])
    with pytest.raises(ValueError, match='use_proposals'):
        model.tasks['ground'].__class__(use_proposals=False)
