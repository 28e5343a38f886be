"""COCO AP split into localisation and classification: class-agnostic and oracle-class AP.

Detection by the unified likelihood (paper Eq. 1 per proposal) takes its boxes and masks from the
proposal network and only its classes from the likelihood.  Beside mmdet's usual bbox / segm AP,
:class:`DetectionDecompositionMetric` evaluates the same predictions twice more:

* **class-agnostic** (``{bbox,segm}_mAP_agnostic``): every category of the ground truth merged
  into one, the predictions reduced to one per box (the pairs ``(proposal, class)`` of one
  proposal share its box) at that box's best score.  What the boxes / masks and their ranking are
  worth if every class were right.
* **oracle class** (``{bbox,segm}_mAP_oracle_cls``): the same one-per-box predictions, each given
  the class of the ground truth it overlaps most (box IoU > 0, same image; else it keeps its own
  best-scoring class), evaluated against the real categories.  The AP the predicted boxes, masks
  and scores reach with a perfect class for every box that touches an object.

``AP_oracle_cls - AP`` is what the predicted classes cost; ``AP_agnostic`` is the ceiling set by
localisation and scoring.
"""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmdet.structures.bbox import bbox_overlaps

from ..datasets.class_agnostic_coco import AGNOSTIC_CATEGORY, merge_coco_categories

DECOMPOSITIONS = ('agnostic', 'oracle_cls')


def one_per_box(pred: dict) -> dict:
    """The predictions of one image reduced to one per distinct box, at its best score.

    Args:
        pred (dict): ``CocoMetric.process`` result: ``bboxes (k, 4)``, ``scores (k,)``,
            ``labels (k,)`` and optionally ``masks`` (k RLEs) / ``mask_scores (k,)``.

    Returns:
        dict: the same keys, one entry per distinct box (its best-scoring entry), sorted by
        score, highest first.  Boxes are equal when all four coordinates are.
    """
    scores = np.asarray(pred['scores'])
    if scores.size == 0:
        return dict(pred)
    _, group = np.unique(np.asarray(pred['bboxes']), axis=0, return_inverse=True)
    order = np.argsort(-scores, kind='stable')
    _, first = np.unique(group.reshape(-1)[order], return_index=True)
    keep = order[np.sort(first)]             # best entry of each box, by score
    out = dict(pred)
    for key in ('bboxes', 'scores', 'labels', 'mask_scores'):
        if key in pred:
            out[key] = np.asarray(pred[key])[keep]
    if 'masks' in pred:
        out['masks'] = [pred['masks'][i] for i in keep]
    return out


def oracle_labels(boxes: np.ndarray, labels: np.ndarray, gt_boxes: np.ndarray,
                  gt_labels: np.ndarray) -> np.ndarray:
    """Each box's label replaced by the label of the ground truth it overlaps most.

    Args:
        boxes (np.ndarray): ``(k, 4)`` predicted xyxy boxes.
        labels (np.ndarray): ``(k,)`` their own labels (kept where no ground truth overlaps).
        gt_boxes (np.ndarray): ``(g, 4)`` ground-truth xyxy boxes of the same image.
        gt_labels (np.ndarray): ``(g,)`` their labels; ``-1`` = a category outside the
            evaluated classes (never given).

    Returns:
        np.ndarray: ``(k,)`` labels.
    """
    labels = np.asarray(labels).copy()
    valid = np.asarray(gt_labels) >= 0
    if len(labels) == 0 or not valid.any():
        return labels
    iou = bbox_overlaps(torch.as_tensor(np.asarray(boxes), dtype=torch.float64),
                        torch.as_tensor(np.asarray(gt_boxes)[valid], dtype=torch.float64)).numpy()
    best = iou.argmax(1)
    hit = iou[np.arange(len(labels)), best] > 0
    labels[hit] = np.asarray(gt_labels)[valid][best[hit]]
    return labels


@METRICS.register_module()
class DetectionDecompositionMetric(CocoMetric):
    """mmdet ``CocoMetric`` plus class-agnostic and oracle-class AP of the same predictions.

    Reports the usual ``bbox_*`` / ``segm_*`` keys and, for each ``bbox`` / ``segm`` metric and
    each item of ``decomposition_items``, ``{metric}_{item}_agnostic`` and
    ``{metric}_{item}_oracle_cls`` (e.g. ``bbox_mAP_agnostic``, ``segm_mAP_oracle_cls``); see the
    module docstring for what they measure.

    Args:
        decomposition_items (Sequence[str]): ``CocoMetric`` items reported for the two
            decompositions (``'mAP'``, ``'mAP_50'``, ``'mAP_75'``, ``'mAP_s'``, ...).
            Defaults to ``('mAP', 'mAP_50')``.
        *args, **kwargs: ``CocoMetric`` arguments (``ann_file``, ``metric``, ...).
    """

    def __init__(self, *args, decomposition_items: Sequence[str] = ('mAP', 'mAP_50'),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        known = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
        unknown = [item for item in decomposition_items if item not in known]
        if unknown:
            raise KeyError(f'DetectionDecompositionMetric.decomposition_items: {unknown} not in '
                           f'{known}')
        self.decomposition_items = tuple(decomposition_items)
        self._agnostic_api = None

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """The usual metrics, then the class-agnostic and oracle-class ones.

        Args:
            results (list): ``(gt, pred)`` pairs of :meth:`CocoMetric.process`.

        Returns:
            dict: ``CocoMetric``'s keys plus the decomposition keys.
        """
        metrics = super().compute_metrics(results)  # also loads the api / cat_ids lazily
        box_metrics = [m for m in self.metrics if m in ('bbox', 'segm')]
        if self.format_only or not box_metrics or not results:
            return metrics
        gts, preds = zip(*results)
        reduced = [one_per_box(p) for p in preds]
        agnostic = [dict(p, labels=np.zeros_like(p['labels'])) for p in reduced]
        oracle = [dict(p, labels=self.oracle_labels_of(p)) for p in reduced]
        if self._agnostic_api is None:
            self._agnostic_api = merge_coco_categories(copy.deepcopy(self._coco_api))
        for name, api, cat_ids, relabelled in (
                ('agnostic', self._agnostic_api, [AGNOSTIC_CATEGORY['id']], agnostic),
                ('oracle_cls', self._coco_api, self.cat_ids, oracle)):
            extra = self._evaluate_with(api, cat_ids, box_metrics, list(zip(gts, relabelled)),
                                        name)
            for metric in box_metrics:
                for item in self.decomposition_items:
                    key = f'{metric}_{item}'
                    if key in extra:
                        metrics[f'{key}_{name}'] = extra[key]
        return metrics

    def oracle_labels_of(self, pred: dict) -> np.ndarray:
        """:func:`oracle_labels` of one image's predictions against its ground truth in the
        annotation file (crowd regions excluded; categories outside ``classes`` never given)."""
        anns = self._coco_api.load_anns(self._coco_api.get_ann_ids(img_ids=[pred['img_id']]))
        anns = [a for a in anns if not a.get('iscrowd', 0)]
        gt_boxes = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                              a['bbox'][1] + a['bbox'][3]] for a in anns],
                            dtype=np.float64).reshape(-1, 4)
        index = {cat: i for i, cat in enumerate(self.cat_ids)}
        gt_labels = np.array([index.get(a['category_id'], -1) for a in anns], dtype=np.int64)
        return oracle_labels(pred['bboxes'], pred['labels'], gt_boxes, gt_labels)

    def _evaluate_with(self, api, cat_ids: List[int], metrics: List[str], results: list,
                       name: str) -> Dict[str, float]:
        """``CocoMetric.compute_metrics`` against another annotation api / category list."""
        saved: Tuple = (self._coco_api, self.cat_ids, self.metrics, self.classwise,
                        self.outfile_prefix)
        prefix: Optional[str] = self.outfile_prefix
        try:
            self._coco_api, self.cat_ids, self.metrics, self.classwise = (
                api, list(cat_ids), list(metrics), False)
            if prefix is not None:
                self.outfile_prefix = osp.join(osp.dirname(prefix),
                                               f'{osp.basename(prefix)}.{name}')
            return super().compute_metrics(results)
        finally:
            (self._coco_api, self.cat_ids, self.metrics, self.classwise,
             self.outfile_prefix) = saved
