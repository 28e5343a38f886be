"""Image-text retrieval Recall@K in both directions from per-sample embeddings."""
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module()
class BidirectionalRetrievalRecall(BaseMetric):
    """Recall@K of image-to-text and text-to-image retrieval over the whole evaluation set.

    Each data sample is one image with its embedding and the embeddings of its ground-truth
    captions (COCO / Flickr30k: usually 5).  After results are collected from all ranks, every
    image is ranked against every caption of the set by cosine similarity (paper: ``P(x, y) ∝
    exp(cos(g(f(x)), g(f(y)))/τ)``; τ does not change rankings):

    - ``i2t/Recall@K``: share of images with at least one of their captions in the top K;
    - ``t2i/Recall@K``: share of captions whose image is in the top K;
    - ``mean_recall``: mean of all of them (a single number for ``save_best``).

    mmpretrain's ``RetrievalRecall`` scores one direction from a per-sample ``pred_score`` over a
    fixed candidate set; this metric needs no candidate set and gives both directions at once.
    Duplicated images (padding of distributed samplers) are counted once.

    Args:
        topk (Sequence[int]): the K values.
        image_key (str): data-sample field with the ``(D,)`` image embedding.
        text_key (str): data-sample field with the ``(T, D)`` (or ``(D,)``) caption embeddings.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): metric-name prefix (default ``'retrieval'``).
    """
    default_prefix = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = (1, 5, 10),
                 image_key: str = 'image_embedding',
                 text_key: str = 'text_embeddings',
                 collect_device: str = 'cpu',
                 prefix: str = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or any(int(k) != k or k < 1 for k in topk):
            raise ValueError('BidirectionalRetrievalRecall.topk must hold integers >= 1, '
                             f'got {topk}')
        self.topk = tuple(int(k) for k in topk)
        self.image_key, self.text_key = image_key, text_key

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep each sample's ``img_id``/``image_id`` and embeddings (on CPU, float32)."""
        for i, sample in enumerate(data_samples):
            get = sample.get if isinstance(sample, dict) else (
                lambda k, s=sample: getattr(s, k, None))
            image, texts = get(self.image_key), get(self.text_key)
            if image is None or texts is None:
                raise KeyError('BidirectionalRetrievalRecall: data sample needs '
                               f'"{self.image_key}" and "{self.text_key}"')
            image_id = get('image_id')
            if image_id is None:
                image_id = get('img_id')
            texts = torch.as_tensor(texts).detach().float().cpu()
            self.results.append(dict(
                image_id=None if image_id is None else str(image_id),
                image=torch.as_tensor(image).detach().float().cpu().reshape(-1),
                texts=texts.reshape(-1, texts.shape[-1])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Rank all images against all captions."""
        seen, kept = set(), []
        for r in results:
            if r['image_id'] is not None:
                if r['image_id'] in seen:
                    continue
                seen.add(r['image_id'])
            kept.append(r)
        images = torch.nn.functional.normalize(torch.stack([r['image'] for r in kept]), dim=-1)
        texts = torch.nn.functional.normalize(torch.cat([r['texts'] for r in kept]), dim=-1)
        owner = torch.cat([torch.full((len(r['texts']), ), i) for i, r in enumerate(kept)])
        sim = images @ texts.t()  # (N images, M captions)
        # rank of the best ground-truth caption of every image; rank of its image for every caption
        order_t = sim.argsort(dim=1, descending=True)
        i2t_rank = (owner[order_t] == torch.arange(len(kept))[:, None]).float().argmax(dim=1)
        order_i = sim.t().argsort(dim=1, descending=True)
        t2i_rank = (order_i == owner[:, None]).float().argmax(dim=1)
        metrics = {}
        for k in self.topk:
            metrics[f'i2t/Recall@{k}'] = 100.0 * float((i2t_rank < k).float().mean())
            metrics[f't2i/Recall@{k}'] = 100.0 * float((t2i_rank < k).float().mean())
        metrics['mean_recall'] = float(np.mean(list(metrics.values())))
        return metrics
