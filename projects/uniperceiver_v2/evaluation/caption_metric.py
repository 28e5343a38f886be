"""Offline COCO caption metrics: BLEU-1..4, METEOR, ROUGE-L, CIDEr (and SPICE when installed)."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmengine.fileio import load
from mmengine.registry import METRICS


def spice_available() -> bool:
    """Whether SPICE can run without downloading Stanford CoreNLP (its jar is present)."""
    try:
        from pycocoevalcap.spice import get_stanford_models as gsm
    except ImportError:
        return False
    return osp.exists(osp.join(gsm.SPICEDIR, gsm.SPICELIB, f'{gsm.JAR}.jar'))


def _as_list(captions: Union[str, Sequence[str], None]) -> List[str]:
    if captions is None:
        return []
    return [captions] if isinstance(captions, str) else [str(c) for c in captions]


def image_key(image_id) -> str:
    """One key for an image id whatever its spelling: COCO files store ``10000001`` while
    mmpretrain's ``COCOCaption`` parses ``'000010000001'`` from the file name."""
    text = str(image_id)
    return str(int(text)) if text.isdigit() else text


@METRICS.register_module()
class CaptionMetric(BaseMetric):
    """COCO caption evaluation that works offline.

    Takes what mmpretrain's ``COCOCaption`` takes - ``pred_caption`` and ``image_id`` of each data
    sample, the references from a COCO caption annotation file (``ann_file``) - or, without
    ``ann_file``, the references in each data sample's ``gt_caption`` (str or list of str).
    Captions are tokenised with the PTB tokenizer and scored with pycocoevalcap's BLEU (corpus
    level, as the COCO server), METEOR, ROUGE-L and CIDEr-D scorers (Java is needed for PTB and
    METEOR).  Unlike ``COCOCaption`` it never calls SPICE's CoreNLP download: SPICE is computed
    only when ``use_spice`` allows it and CoreNLP is already installed.  Keys are those of
    ``COCOEvalCap``: ``Bleu_1``..``Bleu_4``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` (``SPICE``).
    Predictions of an image seen twice (padding of distributed samplers) are counted once.

    Not a subclass of mmpretrain's ``COCOCaption``: that class is an ``ann_file``, a ``process``
    that casts ``image_id`` to int and a ``compute_metrics`` that runs ``COCOEvalCap`` (SPICE
    included, which downloads CoreNLP); all three differ here, so a subclass would override every
    method and be no smaller.

    Args:
        ann_file (str, optional): COCO-format caption annotations (``annotations`` with
            ``image_id`` and ``caption``).
        use_spice (bool, optional): ``True`` requires SPICE (error if CoreNLP is missing),
            ``False`` skips it, ``None`` uses it when available.
        use_meteor (bool): compute METEOR (a Java process).
        collect_device (str): ``'cpu'`` or ``'gpu'``, for collecting results across ranks.
        prefix (str, optional): metric-name prefix (default ``'caption'``).
    """
    default_prefix = 'caption'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 use_spice: Optional[bool] = False,
                 use_meteor: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        try:
            import pycocoevalcap  # noqa: F401
        except ImportError as e:
            raise ImportError('CaptionMetric needs pycocoevalcap '
                              '(requirements/optional.txt)') from e
        if use_spice and not spice_available():
            raise RuntimeError('CaptionMetric(use_spice=True): Stanford CoreNLP is not installed '
                               'in pycocoevalcap/spice/lib and cannot be downloaded offline; set '
                               'use_spice=None or False')
        self.use_spice = spice_available() if use_spice is None else bool(use_spice)
        self.use_meteor = use_meteor
        self.ann_file = ann_file
        self._gts: Optional[Dict[str, List[str]]] = None
        if ann_file is not None:
            self._gts = self._load_ann_file(ann_file)

    @staticmethod
    def _load_ann_file(ann_file: str) -> Dict[str, List[str]]:
        data = load(ann_file)
        anns = data.get('annotations') if isinstance(data, dict) else None
        if anns is None:
            raise KeyError(f'{ann_file}: a COCO caption file needs an "annotations" list')
        gts: Dict[str, List[str]] = {}
        for i, ann in enumerate(anns):
            if 'image_id' not in ann or 'caption' not in ann:
                raise KeyError(f'{ann_file}: annotations[{i}] needs "image_id" and "caption"')
            gts.setdefault(image_key(ann['image_id']), []).append(str(ann['caption']))
        return gts

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep ``image_id``, ``pred_caption`` and (without ``ann_file``) ``gt_caption``."""
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else (
                lambda k, s=sample: getattr(s, k, None))
            image_id, pred = get('image_id'), get('pred_caption')
            if image_id is None or pred is None:
                raise KeyError('CaptionMetric: each data sample needs "image_id" and '
                               '"pred_caption"')
            result = dict(image_id=image_key(image_id), caption=str(pred))
            if self._gts is None:
                gts = _as_list(get('gt_caption'))
                if not gts:
                    raise KeyError(f'CaptionMetric: image {image_id} has no "gt_caption" and no '
                                   'ann_file was given')
                result['gt_caption'] = gts
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Score the (deduplicated) predictions against their references."""
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        res, gts = OrderedDict(), OrderedDict()
        for r in results:
            if r['image_id'] in res:
                continue
            refs = r['gt_caption'] if self._gts is None else self._gts.get(r['image_id'])
            if not refs:
                raise KeyError(f'CaptionMetric: image_id {r["image_id"]} is not in {self.ann_file}')
            res[r['image_id']] = [dict(caption=r['caption'])]
            gts[r['image_id']] = [dict(caption=c) for c in refs]
        tokenizer = PTBTokenizer()
        gts_tok, res_tok = tokenizer.tokenize(gts), tokenizer.tokenize(res)
        scorers = [(Bleu(4), ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4'])]
        if self.use_meteor:
            from pycocoevalcap.meteor.meteor import Meteor
            scorers.append((Meteor(), ['METEOR']))
        scorers += [(Rouge(), ['ROUGE_L']), (Cider(), ['CIDEr'])]
        if self.use_spice:
            from pycocoevalcap.spice.spice import Spice
            scorers.append((Spice(), ['SPICE']))
        metrics: Dict[str, float] = {}
        for scorer, names in scorers:
            score, _ = scorer.compute_score(gts_tok, res_tok)
            scores = score if isinstance(score, list) else [score]
            metrics.update({n: float(s) for n, s in zip(names, scores)})
        return metrics
