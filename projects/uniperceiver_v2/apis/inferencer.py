"""One object that loads a Uni-Perceiver v2 config + checkpoint and runs every task on images."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.utils import import_modules_from_strings

from ..models.tasks.base_task import load_class_names
from ..utils.checkpoint import check_checkpoint_matches
from ..utils.compat import checkpoint_safe_globals

#: task component class -> what the inferencer calls it
TASK_KINDS = dict(ClassificationTask='classification', DetectionTask='detection',
                  CaptioningTask='captioning', RetrievalTask='retrieval',
                  GroundingTask='grounding', SemanticSegmentationTask='semantic_segmentation')
#: the task kinds whose candidate set is a class list (replaceable at call time)
CLASS_NAME_KINDS = ('classification', 'detection', 'semantic_segmentation')
#: transforms that read annotations, which single images do not have
ANNOTATION_TRANSFORMS = ('LoadAnnotations', 'CleanCaption')


class UniPerceiverV2Inferencer:
    """Classify, detect and segment, caption, and rank images or texts with one model.

    In the manner of mmdet's ``DetInferencer``: the config names the model and, per task, the test
    pipeline (``test_dataloader.<task>.dataset.pipeline``); each image goes through the pipeline of
    each task it is asked for, and the task's ``predict`` writes the standard data samples.

    Example::

        inferencer = UniPerceiverV2Inferencer('configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py',
                                              'work_dirs/upv2_mobilenetv2_1xcpu-770it_synthetic/iter_770.pth')
        results = inferencer(['photo.png'], out_dir='outputs/')       # class, detections, caption
        inferencer.rank_images('a red circle', ['a.png', 'b.png'])    # text -> images
        inferencer.rank_texts('a.png', ['a red circle', 'a blue star'])  # image -> texts
        inferencer.ground('a.png', 'the small red triangle left of the blue star')  # region
        inferencer.segment('a.png', class_names=['red circle', 'blue star'])  # class per pixel

    Args:
        config (str | Config): the model config.
        checkpoint (str, optional): weights; None initialises the model as training would start
            (pretrained backbone / text weights, the rest random: tests, smoke runs).
        device (str): ``'cpu'``, ``'cuda'``, ...
        class_names (Sequence[str] | str, optional): replace the classification, detection and
            semantic-segmentation class names (open vocabulary; a list or a file with one name
            per line).
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 class_names: Union[None, str, Sequence[str]] = None) -> None:
        if isinstance(config, str):
            if not osp.isfile(config):
                raise FileNotFoundError(f'config file not found: {config}')
            config = Config.fromfile(config)
        self.cfg = config
        imports = config.get('custom_imports', dict(imports=['uniperceiver_v2']))
        import_modules_from_strings(**imports)
        init_default_scope(config.get('default_scope', 'mmdet'))
        from mmdet.registry import MODELS
        self.model = MODELS.build(config.model)
        if checkpoint is None:
            self.model.init_weights()  # pretrained parts from init_cfg, the rest initialised
        else:
            check_checkpoint_matches(checkpoint, self.model)
            with checkpoint_safe_globals():  # an mmengine checkpoint, under torch's safe loader
                load_checkpoint(self.model, checkpoint, map_location='cpu', strict=True,
                                logger='silent')
        self.model.to(device).eval()
        self.device = device
        self.task_names: Dict[str, str] = {}
        for name, task in self.model.tasks.items():
            kind = TASK_KINDS.get(type(task).__name__)
            if kind is not None and kind not in self.task_names:
                self.task_names[kind] = name
        if class_names is not None:
            names = load_class_names(class_names, 'UniPerceiverV2Inferencer.class_names')
            for kind in CLASS_NAME_KINDS:
                if kind in self.task_names:
                    self.model.tasks[self.task_names[kind]].set_class_names(names)
        self.pipelines = {kind: self._pipeline(name) for kind, name in self.task_names.items()}

    # ------------------------------------------------------------------------------ plumbing
    def _pipeline(self, task: str) -> Compose:
        """The task's test pipeline without the transforms that need annotations."""
        loaders = self.cfg.get('test_dataloader', None)
        if not isinstance(loaders, dict) or task not in loaders:
            raise KeyError(f'config has no test_dataloader.{task} (its test pipeline is needed)')
        pipeline = [t for t in loaders[task]['dataset']['pipeline']
                    if not str(t['type']).split('.')[-1].startswith(ANNOTATION_TRANSFORMS)]
        return Compose(pipeline)

    def task(self, kind: str) -> str:
        """The configured task name of ``kind`` ('classification', 'detection', ...)."""
        if kind not in self.task_names:
            raise KeyError(f'the model has no {kind} task; configured tasks: '
                           f'{ {n: type(t).__name__ for n, t in self.model.tasks.items()} }')
        return self.task_names[kind]

    @staticmethod
    def check_image(path: str) -> None:
        """Raise a clear error for a missing or unreadable image file."""
        if not isinstance(path, str):
            raise TypeError(f'images are given as file paths, got {type(path).__name__}')
        if not osp.isfile(path):
            raise FileNotFoundError(f'image file not found: {path}')
        if mmcv.imread(path) is None:
            raise ValueError(f'{path} is not a readable image (corrupt or not an image format)')

    def _batch(self, kind: str, images: Sequence[str]) -> dict:
        for p in images:
            self.check_image(p)
        samples = [self.pipelines[kind](dict(img_path=p, img_id=i, sample_idx=i, image_id=i))
                   for i, p in enumerate(images)]
        return self.model.data_preprocessor(pseudo_collate(samples), False)

    @torch.no_grad()
    def predict(self, kind: str, images: Sequence[str]) -> list:
        """The data samples ``predict`` of the ``kind`` task writes for ``images``."""
        data = self._batch(kind, images)
        return self.model(data['inputs'], data['data_samples'], mode='predict',
                          task=self.task(kind))

    # ---------------------------------------------------------------------------- public API
    def __call__(self, images: Union[str, Sequence[str]],
                 tasks: Sequence[str] = ('classification', 'detection', 'captioning'),
                 out_dir: Optional[str] = None, score_thr: float = 0.3) -> List[dict]:
        """Run ``tasks`` on each image; optionally draw the results into ``out_dir``.

        Args:
            images (str | Sequence[str]): image file paths.
            tasks (Sequence[str]): any of 'classification', 'detection', 'captioning' that the
                model has.
            out_dir (str, optional): write ``<out_dir>/<image name>.png`` with boxes, masks, the
                class and the caption drawn.
            score_thr (float): drawing threshold for detections.

        Returns:
            list[dict]: per image ``img_path`` and, per task asked, ``class`` (name, score),
            ``detections`` (mmdet ``InstanceData``: bboxes, labels, scores, masks; label names in
            ``det_class_names``) and ``caption``.
        """
        images = [images] if isinstance(images, str) else list(images)
        if not images:
            raise ValueError('no images given')
        results = [dict(img_path=p) for p in images]
        merged = [None] * len(images)
        from mmdet.structures import DetDataSample
        for kind in tasks:
            for i, sample in enumerate(self.predict(kind, images)):
                merged[i] = merged[i] if merged[i] is not None else DetDataSample()
                if kind == 'classification':
                    names = self.model.tasks[self.task(kind)].predict_class_names
                    label = int(sample.pred_label.reshape(-1)[0])
                    score = float(sample.pred_score.reshape(-1)[label])
                    results[i]['class'] = (names[label], score)
                    merged[i].pred_label, merged[i].pred_score = sample.pred_label, sample.pred_score
                elif kind == 'detection':
                    results[i]['detections'] = sample.pred_instances
                    results[i]['det_class_names'] = list(self.detection_class_names())
                    merged[i].pred_instances = sample.pred_instances
                elif kind == 'captioning':
                    results[i]['caption'] = sample.pred_caption
                    merged[i].pred_caption = sample.pred_caption
                else:
                    raise ValueError(f'unknown task kind {kind!r}; use classification, detection '
                                     'or captioning (retrieval: rank_images / rank_texts)')
        if out_dir is not None:
            self.draw(images, merged, out_dir, score_thr)
            for r in results:
                r['drawn'] = osp.join(out_dir, osp.splitext(osp.basename(r['img_path']))[0] + '.png')
        return results

    # ------------------------------------------------------------------ grounding, semantic maps
    def _single(self, kind: str, image: str, **fields) -> Tuple[torch.Tensor, list]:
        """One image through the ``kind`` task's test pipeline (with extra ``fields`` such as the
        expression), preprocessed."""
        self.check_image(image)
        sample = self.pipelines[kind](dict(img_path=image, img_id=0, sample_idx=0, image_id=0,
                                           **fields))
        data = self.model.data_preprocessor(pseudo_collate([sample]), False)
        return data['inputs'], data['data_samples']

    @torch.no_grad()
    def ground(self, image: str, expressions: Union[str, Sequence[str]],
               out_dir: Optional[str] = None) -> List[dict]:
        """The region each referring expression describes (the most likely proposal).

        Args:
            image (str): image file path.
            expressions (str | Sequence[str]): one or several expressions.
            out_dir (str, optional): draw each expression's box and mask into
                ``<out_dir>/<image name>_ground<i>.png``.

        Returns:
            list[dict]: per expression ``expression``, ``bbox`` (xyxy, original pixels),
            ``score`` (its probability among the proposals), ``mask`` (bool ``(H, W)``) and
            with ``out_dir`` ``drawn``.
        """
        texts = [expressions] if isinstance(expressions, str) else list(expressions)
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError('ground: give one or more non-empty expressions')
        task = self.model.tasks[self.task('grounding')]
        results = []
        for i, text in enumerate(texts):
            inputs, samples = self._single('grounding', image, text=text)
            (sample, ) = task.predict(self.model, inputs, samples, texts=[text])
            pred = sample.pred_instances
            result = dict(expression=text, bbox=pred.bboxes[0].tolist(),
                          score=float(pred.scores[0]))
            if 'masks' in pred:
                result['mask'] = pred.masks[0]
            if out_dir is not None:
                from mmdet.structures import DetDataSample
                stem = osp.splitext(osp.basename(image))[0]
                result['drawn'] = self._draw_one(
                    image, DetDataSample(pred_instances=pred), [text],
                    osp.join(out_dir, f'{stem}_ground{i}.png'))
            results.append(result)
        return results

    @torch.no_grad()
    def segment(self, image: str, class_names: Union[None, str, Sequence[str]] = None,
                out_dir: Optional[str] = None, score_thr: float = 0.3) -> dict:
        """A class per pixel (Mask2Former semantic inference over the proposals).

        Args:
            image (str): image file path.
            class_names (Sequence[str] | str, optional): names for this call only (default the
                task's test / training names).
            out_dir (str, optional): draw the map into ``<out_dir>/<image name>_semseg.png``.
            score_thr (float): drawing only: pixels whose best class score ``S_k`` is below it
                are left undrawn (no proposal covers them).

        Returns:
            dict: ``sem_seg`` (long ``(H, W)`` class indices), ``scores`` (``(K, H, W)``),
            ``class_names`` and with ``out_dir`` ``drawn``.
        """
        task = self.model.tasks[self.task('semantic_segmentation')]
        names = (list(task.predict_class_names) if class_names is None else load_class_names(
            class_names, 'UniPerceiverV2Inferencer.segment(class_names=...)'))
        inputs, samples = self._single('semantic_segmentation', image)
        (sample, ) = task.predict(self.model, inputs, samples, class_names=names)
        scores, sem_seg = sample.seg_logits.data, sample.pred_sem_seg.data[0]
        result = dict(sem_seg=sem_seg, scores=scores, class_names=names)
        if out_dir is not None:
            from mmdet.structures import DetDataSample
            from mmengine.structures import PixelData
            shown = sem_seg.masked_fill(scores.max(0)[0] < score_thr, 255)
            stem = osp.splitext(osp.basename(image))[0]
            result['drawn'] = self._draw_one(
                image, DetDataSample(pred_sem_seg=PixelData(sem_seg=shown[None])), names,
                osp.join(out_dir, f'{stem}_semseg.png'))
        return result

    def _draw_one(self, image: str, sample, names: Sequence[str], out_file: str) -> str:
        """Draw one sample whose labels index ``names``; returns ``out_file``."""
        from ..visualization import UniPerceiverV2Visualizer
        os.makedirs(osp.dirname(out_file) or '.', exist_ok=True)
        vis = UniPerceiverV2Visualizer.get_instance(f'upv2_inferencer_one_{id(self)}')
        rng = np.random.RandomState(1)
        vis.dataset_meta = dict(classes=list(names), palette=[
            tuple(int(c) for c in rng.randint(64, 255, 3)) for _ in names])
        vis.add_datasample(osp.basename(image), mmcv.imread(image, channel_order='rgb'), sample,
                           pred_score_thr=0.0, out_file=out_file)
        return out_file

    def detection_class_names(self) -> Sequence[str]:
        return self.model.tasks[self.task('detection')].predict_class_names

    def draw(self, images: Sequence[str], samples: list, out_dir: str,
             score_thr: float = 0.3) -> None:
        """Draw merged predictions of each image into ``out_dir``."""
        from ..visualization import UniPerceiverV2Visualizer
        os.makedirs(out_dir, exist_ok=True)
        cls_names = (self.model.tasks[self.task('classification')].predict_class_names
                     if 'classification' in self.task_names else None)
        vis = UniPerceiverV2Visualizer.get_instance(
            f'upv2_inferencer_{id(self)}', class_names=cls_names)
        if 'detection' in self.task_names:
            names = list(self.detection_class_names())
            rng = np.random.RandomState(0)
            vis.dataset_meta = dict(classes=names, palette=[tuple(int(c) for c in rng.randint(
                64, 255, 3)) for _ in names])
        for path, sample in zip(images, samples):
            img = mmcv.imread(path, channel_order='rgb')
            out = osp.join(out_dir, osp.splitext(osp.basename(path))[0] + '.png')
            vis.add_datasample(osp.basename(path), img, sample, pred_score_thr=score_thr,
                               out_file=out)

    @torch.no_grad()
    def _similarities(self, images: Sequence[str], texts: Sequence[str]) -> torch.Tensor:
        name = self.task('retrieval')
        task = self.model.tasks[name]
        data = self._batch('retrieval', images)
        img = task.image_features(self.model, data['inputs'], data['data_samples'])
        txt = task.text_features(self.model, list(texts))
        return self.model.likelihood_head(img, txt, task.family)

    def rank_images(self, text: str, images: Sequence[str]) -> List[Tuple[str, float]]:
        """Images sorted by their likelihood for ``text`` (best first), with the cosine / τ score."""
        if not images:
            raise ValueError('rank_images: no images given')
        scores = self._similarities(images, [text])[:, 0]
        order = scores.argsort(descending=True).tolist()
        return [(images[i], float(scores[i])) for i in order]

    def rank_texts(self, image: str, texts: Sequence[str]) -> List[Tuple[str, float]]:
        """Texts sorted by their likelihood for ``image`` (best first), with the cosine / τ score."""
        if not texts:
            raise ValueError('rank_texts: no texts given')
        scores = self._similarities([image], texts)[0]
        order = scores.argsort(descending=True).tolist()
        return [(texts[i], float(scores[i])) for i in order]
