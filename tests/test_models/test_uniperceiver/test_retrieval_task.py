"""RetrievalTask: symmetric label-smoothed CE against a direct computation; predictions in
mmpretrain's retrieval contract scored by RetrievalRecall."""
import torch
import torch.nn.functional as F
from mmpretrain.evaluation import RetrievalRecall
from mmpretrain.structures import DataSample

CLASSES = ['red circle', 'blue square', 'green triangle']


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


def test_predict_embeds_for_bidirectional_recall(build_model, images):
    """predict (the multi-task val loop's path) gives each image its own caption embeddings,
    equal to the tensor-mode features, and BidirectionalRetrievalRecall ranks them."""
    from uniperceiver_v2.evaluation import BidirectionalRetrievalRecall

    model = build_model(dict(ret=dict(type='RetrievalTask'))).eval()
    feats = model(images, retrieval_samples(), mode='tensor', task='ret')
    out = model(images, retrieval_samples(), mode='predict', task='ret')
    assert out[0].text_embeddings.shape == (2, 32) and out[1].text_embeddings.shape == (1, 32)
    assert torch.allclose(out[0].image_embedding, feats['image_feat'][0], atol=1e-5)
    assert torch.allclose(torch.cat([o.text_embeddings for o in out]), feats['text_feat'],
                          atol=1e-5)
    metric = BidirectionalRetrievalRecall(topk=(1, 3))
    metric.process(None, out)
    res = metric.evaluate(2)
    assert res['retrieval/i2t/Recall@3'] == 100.0 and res['retrieval/t2i/Recall@3'] == 100.0


def test_gather_declares_its_collective():
    """Gathered negatives enter an all-gather only the ranks of this task reach: the task says so,
    and MultiTaskTrainLoop refuses mixed sampling on several ranks with it (tested on 2 ranks in
    tests/test_tools/test_train_entry_point.py)."""
    from uniperceiver_v2.models.tasks import RetrievalTask
    assert RetrievalTask(gather_features=True).collectives_in_loss() == ['gather_features']
    assert RetrievalTask(gather_features=False).collectives_in_loss() == []
