"""Classification, retrieval and captioning tasks on the UniPerceiverV2 model: losses against direct
computations, zero-shot classification, mmpretrain metrics on the predictions, beam search."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.evaluation import Accuracy, RetrievalRecall
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


def retrieval_samples():
    s0 = DataSample(text=['a red circle', 'red round shape'], gt_text_id=[0, 1],
                    gt_image_id=[0, 0], image_id=0)
    s1 = DataSample(text=['a blue square'], gt_text_id=[2], gt_image_id=[1], image_id=1)
    return [s0, s1]


def test_retrieval_loss_matches_formula(build_model, images):
    model = build_model(dict(ret=dict(type='RetrievalTask'))).eval()
    samples = [DataSample(text='a red circle'), DataSample(text='a blue square')]
    torch.manual_seed(1)
    losses = model(images, samples, mode='loss', task='ret')
    task = model.tasks['ret']
    img = task.image_features(model, images, None)
    txt = task.text_features(model, ['a red circle', 'a blue square'])
    s = (F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).t()) / 0.07
    # label smoothing 0.1 written out: (1 - ε) on the target + ε/N spread over all N
    def ce_ls(logits, eps=0.1):
        logp = logits.log_softmax(-1)
        n = logits.shape[1]
        return -(((1 - eps) * logp.diagonal()) + eps / n * logp.sum(-1)).mean()
    expected = 0.5 * (ce_ls(s) + ce_ls(s.t()))
    assert torch.allclose(losses['loss_retrieval'], expected, atol=1e-4)


def test_retrieval_predictions_scored_by_retrieval_recall(build_model, images):
    model = build_model(dict(ret=dict(type='RetrievalTask'),
                             cls=dict(type='ClassificationTask', class_names=CLASSES))).eval()
    feats = model(images, retrieval_samples(), mode='tensor', task='ret')
    assert feats['image_feat'].shape == (2, 32) and feats['text_feat'].shape == (3, 32)
    i2t, t2i = model.predict_all(feats, retrieval_samples(), num_images=2, num_texts=3)
    assert len(i2t) == 2 and len(t2i) == 3 and i2t[0].pred_score.shape == (3,)
    for samples, n in ((i2t, 2), (t2i, 3)):
        metric = RetrievalRecall(topk=(1, 2))
        metric.process(None, [s.to_dict() for s in samples])
        res = metric.evaluate(n)
        assert 0 <= res['retrieval/Recall@1'] <= 100 and res['retrieval/Recall@2'] >= res['retrieval/Recall@1']


def caption_model(build_model, **kw):
    cfg = dict(type='CaptioningTask', vocabulary=None, beam_size=2, max_length=6)
    cfg.update(kw)
    return build_model(dict(cap=cfg))


def test_caption_loss_matches_formula_and_is_causal(build_model, images, tmp_path):
    caps = ['a red circle', 'a blue square']
    vocab_file = tmp_path / 'captions.txt'  # vocabulary = the ids the training captions use
    vocab_file.write_text('\n'.join(caps + ['a green triangle']))
    model = caption_model(build_model, label_smoothing=0.0, vocabulary=str(vocab_file)).eval()
    task = model.tasks['cap']
    samples = [DataSample(gt_caption=c) for c in caps]
    loss = model(images, samples, mode='loss')['loss_caption']
    # direct: every next token scored against all vocabulary embeddings
    ids, att = model.text_encoder.tokenize(caps)
    vocab_ids, lut = task.vocabulary(model)
    assert len(vocab_ids) < 20 and bool((lut[ids[att.bool()]] >= 0).all())
    vemb = model.decoder(model.text_encoder.embed_vocabulary(vocab_ids)[:, None],
                         [('vocabulary_target', 1)])[:, 0]
    total, count = 0.0, 0
    for b in range(2):
        n = int(att[b].sum())
        for t in range(n - 1):  # predict token t+1 from the prefix up to t, run separately
            prefix = ids[b:b + 1, :t + 1]
            f = model.text_encoder(prefix, torch.ones_like(prefix), causal=True)
            tok = model.image_encoder(images[b:b + 1])
            img, pad, segs = task.image_sequence(tok, 'caption_')
            out = model.decoder(torch.cat([img, f], 1), segs + [('caption_text', t + 1)],
                                causal_start=1 + img.shape[1])[:, -1]
            logits = F.normalize(out, dim=-1) @ F.normalize(vemb, dim=-1).t() / 0.07
            total = total + F.cross_entropy(logits, lut[ids[b, t + 1]].view(1), reduction='sum')
            count += 1
    assert torch.allclose(loss, total / count, atol=1e-4)


def test_beam_search_incremental_equals_full_and_writes_captions(build_model, images):
    model = caption_model(build_model, vocabulary=list(range(1000, 1100))).eval()
    task = model.tasks['cap']
    with torch.no_grad():
        inc = task.generate(model, images, None)
        task.use_kv_cache = False
        full = task.generate(model, images, None)
        task.use_kv_cache = True
        # greedy == beam 1
        task.beam_size = 1
        greedy = task.generate(model, images, None)
    assert torch.equal(inc, full)
    assert greedy.shape[0] == 2
    out = model(images, [DataSample(image_id=3), DataSample(image_id=4)], mode='predict')
    assert all(isinstance(o.pred_caption, str) for o in out)


def test_text_encoder_edge_cases(build_model):
    model = caption_model(build_model)
    te = model.text_encoder
    ids, att = te.tokenize(['', 'très long ' * 100, '日本語のテキスト'])
    assert ids.shape[1] == te.max_length
    assert int(att[0].sum()) == 2  # empty text: begin + end tokens only
    assert te(ids, att).shape == (3, te.max_length, 32)
    with pytest.raises(ValueError, match='non-empty'):
        te.tokenize([])
