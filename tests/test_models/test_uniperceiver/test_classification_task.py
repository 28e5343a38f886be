"""ClassificationTask: loss against P ∝ exp(cos/τ), mmpretrain Accuracy, zero-shot class names,
class-name cache."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample

CLASSES = ['red circle', 'blue square', 'green triangle']


def cls_samples(labels):
    return [DataSample().set_gt_label(l) for l in labels]


def test_classification_loss_matches_formula(build_model, images):
    # eval(): no dropout inside the text encoder, so the two computations are comparable
    model = build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES))).eval()
    samples = cls_samples([2, 0])
    losses = model(images, samples, mode='loss')  # single task: `task` may be omitted
    # direct computation: P ∝ exp(cos(g(x), g(y)) / τ), CE on the label
    tok = model.image_encoder(images)
    x = model.decoder(*tok.tokens()[:1], [('image_global', tok.global_tokens.shape[1]),
                                          ('image_proposal', tok.proposal_tokens.shape[1])],
                      tok.tokens()[1])[:, 0]
    feats, _, pad = model.text_encoder.encode(CLASSES)
    y = model.decoder(feats, [('class_name_target', feats.shape[1])], pad)[:, 0]
    cos = F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).t()
    expected = F.cross_entropy(cos / 0.07, torch.tensor([2, 0]))
    assert torch.allclose(losses['loss_cls'], expected, atol=1e-4)
    losses['loss_cls'].backward()
    assert model.text_encoder.model.embeddings.word_embeddings.weight.grad is not None
    assert model.likelihood_head.logit_scales['classification'].grad is not None


def test_classification_predict_accuracy_zero_shot_and_cache(build_model, images):
    model = build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES))).eval()
    out = model(images, cls_samples([0, 1]), mode='predict', task='cls')
    assert out[0].pred_score.shape == (3,)
    metric = Accuracy(topk=(1,))
    metric.process(None, [o.to_dict() for o in out])
    assert 'accuracy/top1' in metric.evaluate(2)
    cache = model.likelihood_head.target_cache
    misses = cache.misses
    model(images, cls_samples([0, 1]), mode='predict')
    assert cache.misses == misses and cache.hits >= 1  # class names encoded once
    # unseen class names at test time, no retraining
    unseen = ['purple star', 'orange hexagon', 'yellow ring', 'black cross']
    with torch.no_grad():
        zs = model.tasks['cls'].predict(model, images, cls_samples([3, 1]), class_names=unseen)
    assert zs[0].pred_score.shape == (4,) and int(zs[0].pred_label) < 4
    with pytest.raises(ValueError, match='empty'):
        model.tasks['cls'].predict(model, images, None, class_names=[])
    with pytest.raises(KeyError, match='unknown task'):
        model(images, None, mode='predict', task='nope')


def test_test_time_class_names_keep_the_training_names(build_model, images):
    """set_class_names changes what predict scores, never what the loss is computed against."""
    model = build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES))).eval()
    task = model.tasks['cls']
    unseen = ['purple star', 'orange hexagon']
    task.set_class_names(unseen)
    assert task.class_names == CLASSES and task.predict_class_names == unseen
    with torch.no_grad():
        out = model(images, cls_samples([0, 1]), mode='predict', task='cls')
        assert out[0].pred_score.shape == (2,)
        losses = model(images, cls_samples([2, 0]), mode='loss', task='cls')  # label 2 < 3 names
    assert torch.isfinite(losses['loss_cls'])
    from_cfg = build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES,
                                         test_class_names=unseen))).tasks['cls']
    assert from_cfg.class_names == CLASSES and from_cfg.predict_class_names == unseen


def test_loss_weight_applies_to_every_loss_key_mmengine_sums():
    """One test for every task: a key is a loss when it contains 'loss' (mmengine parse_losses)."""
    from uniperceiver_v2.models.tasks.base_task import BaseTask
    task = BaseTask(family='classification', loss_weight=2.0)
    one = torch.tensor(1.0)
    out = task.weighted({'loss_cls': one, 'proposal.d0.loss_cls': one, 'enc_loss_bbox': one,
                         'acc_cls': one, 'det_acc': one})
    assert {k: float(v) for k, v in out.items()} == {
        'loss_cls': 2.0, 'proposal.d0.loss_cls': 2.0, 'enc_loss_bbox': 2.0, 'acc_cls': 1.0,
        'det_acc': 1.0}
