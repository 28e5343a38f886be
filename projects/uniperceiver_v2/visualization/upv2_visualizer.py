"""Draws every task's prediction on its image: boxes and masks, class labels, captions."""
import textwrap
from typing import List, Optional

import numpy as np
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer


@VISUALIZERS.register_module()
class UniPerceiverV2Visualizer(DetLocalVisualizer):
    """mmdet's ``DetLocalVisualizer`` that also writes classification and caption predictions.

    Detection / instance segmentation (``pred_instances``: boxes, masks; grounding draws its one
    chosen region this way) and semantic maps (``pred_sem_seg`` with mmdet's ``sem_seg`` field,
    255 = not drawn) are drawn by mmdet unchanged;
    samples with ``pred_label`` (classification) or ``pred_caption`` (captioning) get the predicted
    class name with its score, or the caption, printed in a banner above the image.

    Args:
        name (str): the instance name (mmengine's ManagerMixin).
        class_names (list[str], optional): names for ``pred_label`` (default: ``dataset_meta``'s
            ``classes``, set by the runner).
        **kwargs: ``DetLocalVisualizer`` arguments.
    """

    def __init__(self, name: str = 'visualizer', class_names: Optional[List[str]] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.class_names = class_names

    def prediction_lines(self, data_sample) -> List[str]:
        """The text lines describing a classification or caption prediction (may be empty)."""
        lines = []
        if 'pred_label' in data_sample:
            label = int(data_sample.pred_label.reshape(-1)[0])
            names = self.class_names or (self.dataset_meta or {}).get('classes')
            name = names[label] if names is not None and label < len(names) else str(label)
            score = ''
            if 'pred_score' in data_sample:
                score = f' ({float(data_sample.pred_score.reshape(-1)[label]):.2f})'
            lines.append(f'class: {name}{score}')
        if 'pred_caption' in data_sample:
            lines.append(f'caption: {data_sample.pred_caption}')
        if 'pred_bboxes' in data_sample and isinstance(data_sample.get('text'), str):
            lines.append(f'expression: {data_sample.text}')  # grounding
        return lines

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None, draw_gt: bool = False,
                       draw_pred: bool = True, show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None, pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw ``data_sample``'s predictions on ``image`` (RGB) and show / save / log it.

        Args match ``DetLocalVisualizer.add_datasample``.
        """
        if data_sample is not None and 'pred_sem_seg' in data_sample \
                and 'sem_seg' not in data_sample.pred_sem_seg:  # mmseg's field name is `data`
            from mmdet.structures import DetDataSample
            from mmengine.structures import PixelData
            data_sample = DetDataSample(pred_sem_seg=PixelData(
                sem_seg=data_sample.pred_sem_seg.data.cpu()))
            self.dataset_meta = self.semantic_meta(data_sample.pred_sem_seg.sem_seg)
        if data_sample is not None and ('pred_instances' in data_sample
                                        or 'pred_sem_seg' in data_sample):
            super().add_datasample(name, image, data_sample, draw_gt=draw_gt, draw_pred=draw_pred,
                                   show=False, out_file=None, pred_score_thr=pred_score_thr,
                                   step=step)
            image = self.get_image()
        lines = self.prediction_lines(data_sample) if data_sample is not None else []
        if lines:
            image = self.with_banner(image, lines)
        self.set_image(image)
        if show:
            self.show(image, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(image[..., ::-1], out_file)
        else:
            self.add_image(name, image, step)

    def semantic_meta(self, sem_seg) -> dict:
        """``dataset_meta`` with a class name and a colour for every label of ``sem_seg`` (mmseg
        datasets give names but no palette; a map can also come without a dataset)."""
        from mmdet.visualization.palette import get_palette
        meta = dict(self.dataset_meta or {})
        labels = [int(v) for v in sem_seg.unique() if int(v) != 255]
        num = max([len(meta.get('classes') or ())] + [v + 1 for v in labels])
        classes = list(meta.get('classes') or ())
        classes += [str(i) for i in range(len(classes), num)]
        palette = list(meta.get('palette') or ())
        if len(palette) < num:
            palette = get_palette('random', num)
        return dict(meta, classes=classes, palette=palette)

    def with_banner(self, image: np.ndarray, lines: List[str]) -> np.ndarray:
        """``image`` with a white banner above it holding ``lines`` (wrapped to the width)."""
        h, w = image.shape[:2]
        scale = max(w, 256) / w
        if scale > 1:  # tiny images (e.g. 64-128 px synthetic scenes): enlarge so text is legible
            import mmcv
            image = mmcv.imresize(image, (int(w * scale), int(h * scale)), interpolation='nearest')
            h, w = image.shape[:2]
        chars = max(16, w // 7)
        wrapped = [seg for line in lines for seg in textwrap.wrap(line, chars)]
        line_h = 14
        banner = np.full((line_h * len(wrapped) + 6, w, 3), 255, dtype=np.uint8)
        canvas = np.concatenate([banner, image], axis=0)
        self.set_image(canvas)
        for i, text in enumerate(wrapped):
            self.draw_texts(text, np.array([3, 3 + i * line_h]), colors='black', font_sizes=10)
        return self.get_image()
