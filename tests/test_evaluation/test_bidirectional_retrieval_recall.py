"""BidirectionalRetrievalRecall against a direct computation."""
import pytest
import torch

from uniperceiver_v2.evaluation import BidirectionalRetrievalRecall


def direct_recall(images, texts_per_image, k):
    """Loop-by-loop Recall@K in both directions (cosine similarity)."""
    texts = [(t, i) for i, ts in enumerate(texts_per_image) for t in ts]

    def cos(a, b):
        return float(a @ b / (a.norm() * b.norm()))

    i2t = 0
    for i, img in enumerate(images):
        ranked = sorted(range(len(texts)), key=lambda j: -cos(img, texts[j][0]))[:k]
        i2t += any(texts[j][1] == i for j in ranked)
    t2i = 0
    for t, owner in texts:
        ranked = sorted(range(len(images)), key=lambda i: -cos(images[i], t))[:k]
        t2i += owner in ranked
    return 100.0 * i2t / len(images), 100.0 * t2i / len(texts)


def test_matches_direct_computation_and_dedupes():
    g = torch.Generator().manual_seed(0)
    images = torch.randn(6, 4, generator=g)
    texts = [images[i] + 0.9 * torch.randn(3, 4, generator=g) for i in range(6)]
    samples = [dict(image_id=i, image_embedding=images[i], text_embeddings=texts[i])
               for i in range(6)]
    metric = BidirectionalRetrievalRecall(topk=(1, 2, 5), prefix='coco_ret')
    metric.process({}, samples[:4])
    metric.process({}, samples[4:] + samples[:1])  # padded duplicate of image 0
    out = metric.evaluate(7)
    for k in (1, 2, 5):
        i2t, t2i = direct_recall(images, texts, k)
        assert out[f'coco_ret/i2t/Recall@{k}'] == pytest.approx(i2t)
        assert out[f'coco_ret/t2i/Recall@{k}'] == pytest.approx(t2i)
    assert out['coco_ret/mean_recall'] == pytest.approx(
        sum(v for key, v in out.items() if 'Recall' in key) / 6)
    assert out['coco_ret/i2t/Recall@1'] < 100.0  # the toy case is not trivially solved


def test_missing_embedding_raises():
    with pytest.raises(KeyError, match='text_embeddings'):
        BidirectionalRetrievalRecall().process({}, [dict(image_embedding=torch.ones(3))])
