"""SemanticSegmentationTask: Mask2Former's semantic inference over the proposals' class
likelihoods and the pixel NLL of that map vs. direct (looped) computations, ignored pixels,
test-time class names, and mmseg IoUMetric on the predictions."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

from uniperceiver_v2.datasets.synthetic_scenes import CLASSES

K = 5
NAMES = list(CLASSES[:K])


def seg_model(build_model, **task_kw):
    return build_model(dict(seg=dict(type='SemanticSegmentationTask', class_names=NAMES,
                                     **task_kw))).eval()


def seg_samples(labels):
    """SegDataSamples of 64 px images with ``labels`` ``(B, 64, 64)`` maps."""
    out = []
    for lab in labels:
        ds = SegDataSample(gt_sem_seg=PixelData(data=lab[None].clone()))
        ds.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), batch_input_shape=(64, 64)))
        out.append(ds)
    return out


@torch.no_grad()
def direct_scores(model, images, names):
    """S_k(p) = sum_n softmax([cos/τ, β])_nk σ(m_n(p)), with the masks brought to 64 px first."""
    task = model.tasks['seg']
    tokens = model.image_encoder(images)
    n = tokens.proposal_tokens.shape[1]
    seq, padding, segments = task.image_sequence(tokens)
    x = model.decoder(seq, segments, padding)[:, -n:]
    feats, _, pad = model.text_encoder.encode(names)
    y = model.decoder(feats, [('class_name_target', feats.shape[1])], pad)[:, 0]
    scale = model.likelihood_head.logit_scales['detection'].exp()
    masks = F.interpolate(tokens.proposal_mask_logits, size=(64, 64), mode='bilinear',
                          align_corners=False).sigmoid()
    out = torch.zeros(images.shape[0], len(names), 64, 64)
    for b in range(images.shape[0]):
        for q in range(n):
            logits = [float(F.cosine_similarity(x[b, q], y[k], dim=0) * scale)
                      for k in range(len(names))] + [float(task.background_logit)]
            z = sum(math.exp(v) for v in logits)
            for k in range(len(names)):
                out[b, k] += math.exp(logits[k]) / z * masks[b, q]
    return out


@pytest.fixture
def mask_images(build_model, images):
    """A model whose stand-in proposals have non-trivial masks (a fixed random pattern)."""
    model = seg_model(build_model)
    encoder = model.image_encoder
    forward = encoder.forward
    torch.manual_seed(1)
    pattern = torch.randn(2, 3, 4, 4) * 3

    def with_masks(inputs, data_samples=None, num_proposals=None):
        tokens = forward(inputs, data_samples, num_proposals)
        tokens.proposal_mask_logits = pattern[:inputs.shape[0]].clone()
        return tokens

    encoder.forward = with_masks
    return model, images


def test_semantic_map_is_mask2former_inference(mask_images):
    model, images = mask_images
    expected = direct_scores(model, images, NAMES)
    with torch.no_grad():
        out = model.tasks['seg'].predict(model, images, seg_samples(torch.zeros(2, 64, 64).long()))
    for b, ds in enumerate(out):
        assert torch.allclose(ds.seg_logits.data, expected[b], atol=1e-4)
        assert torch.equal(ds.pred_sem_seg.data[0], expected[b].argmax(0))


def test_loss_is_pixel_nll_of_the_normalised_map(mask_images):
    model, images = mask_images
    expected_scores = direct_scores(model, images, NAMES)
    torch.manual_seed(2)
    labels = torch.randint(0, K, (2, 64, 64))
    labels[:, :10] = 255  # ignored rows
    eps = model.tasks['seg'].eps
    total, count = 0.0, 0
    for b in range(2):
        s = expected_scores[b]
        p = (s + eps / K) / (s.sum(0, keepdim=True) + eps)
        lab = labels[b]
        valid = lab != 255
        total += float(-p.log().gather(0, lab.clamp(max=K - 1)[None])[0][valid].sum())
        count += int(valid.sum())
    losses = model.tasks['seg'].loss(model, images, seg_samples(labels))
    assert math.isclose(float(losses['loss_semseg']), total / count, rel_tol=1e-4)
    acc = sum(int(((expected_scores[b].argmax(0) == labels[b]) & (labels[b] != 255)).sum())
              for b in range(2)) / count
    assert math.isclose(float(losses['semseg_acc']), acc, rel_tol=1e-6)
    losses['loss_semseg'].backward()
    assert model.tasks['seg'].background_logit.grad is not None


def test_test_time_class_names_and_iou_metric(mask_images):
    model, images = mask_images
    other = ['purple moon', 'orange cross', 'grey arrow']
    expected = direct_scores(model, images, other)
    with torch.no_grad():
        out = model.tasks['seg'].predict(model, images, seg_samples(torch.zeros(2, 64, 64).long()),
                                         class_names=other)
    assert out[0].seg_logits.data.shape == (3, 64, 64)
    assert torch.allclose(out[0].seg_logits.data, expected[0], atol=1e-4)
    assert model.tasks['seg'].class_names == NAMES  # training names kept
    for ds in out:  # score the prediction against itself: mIoU 100 on the classes present
        ds.gt_sem_seg = PixelData(data=ds.pred_sem_seg.data.clone())
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=tuple(other))
    metric.process({}, [ds.to_dict() for ds in out])
    assert metric.compute_metrics(metric.results)['aAcc'] == 100.0


def test_label_out_of_range_is_a_clear_error(mask_images):
    model, images = mask_images
    labels = torch.full((2, 64, 64), 255)
    labels[0, 0, 0] = K
    with pytest.raises(ValueError, match='out of range for 5 class names'):
        model.tasks['seg'].loss(model, images, seg_samples(labels))
    with pytest.raises(KeyError, match='gt_sem_seg'):
        model.tasks['seg'].loss(model, images, [SegDataSample(metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), batch_input_shape=(64, 64)))] * 2)
