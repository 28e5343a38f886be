"""Writes drawn predictions of every task during testing (``tools/test.py --show-dir``)."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import Visualizer
from mmdet.registry import HOOKS


@HOOKS.register_module()
class MultiTaskVisualizationHook(Hook):
    """Draw test predictions per task into ``<work_dir>/<timestamp>/<test_out_dir>/<task>/``.

    Works for every task whose data samples carry ``img_path`` and a prediction to draw (detection,
    segmentation, classification, captioning); retrieval outputs (embeddings) are skipped. The task name
    comes from the batch's ``'task'`` key (single-task loops have none: files go to the folder root).

    Args:
        draw (bool): draw at all (``tools/test.py --show-dir`` turns it on).
        score_thr (float): boxes / masks below this score are not drawn.
        test_out_dir (str, optional): output folder, relative to ``<work_dir>/<timestamp>``.
        max_per_task (int): at most this many images per task.
        backend_args (dict, optional): file backend arguments.
    """

    def __init__(self, draw: bool = False, score_thr: float = 0.3,
                 test_out_dir: Optional[str] = None, max_per_task: int = 50,
                 backend_args: Optional[dict] = None) -> None:
        self.draw = draw
        self.score_thr = score_thr
        self.test_out_dir = test_out_dir
        self.max_per_task = max_per_task
        self.backend_args = backend_args
        self._counts = {}

    def before_test(self, runner) -> None:
        self._counts = {}
        if self.draw and self.test_out_dir is not None:
            self._root = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(self._root)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        if not self.draw or self.test_out_dir is None:
            return
        task = data_batch.get('task') if isinstance(data_batch, dict) else None
        visualizer = Visualizer.get_current_instance()
        for sample in outputs:
            drawable = any(k in sample for k in ('pred_instances', 'pred_label', 'pred_caption',
                                                 'pred_sem_seg'))
            if not drawable or 'img_path' not in sample or \
                    self._counts.get(task, 0) >= self.max_per_task:
                continue
            self._counts[task] = self._counts.get(task, 0) + 1
            img = mmcv.imfrombytes(get(sample.img_path, backend_args=self.backend_args),
                                   channel_order='rgb')
            out_dir = osp.join(self._root, task) if task else self._root
            mkdir_or_exist(out_dir)
            visualizer.add_datasample(
                osp.basename(sample.img_path), img, data_sample=sample, draw_gt=False,
                pred_score_thr=self.score_thr,
                out_file=osp.join(out_dir, osp.basename(sample.img_path)))
