"""A plain text corpus (one sentence per line) for masked language modelling (Base / Large)."""
import os.path as osp
from typing import List

from mmdet.registry import DATASETS
from mmengine.dataset import BaseDataset


@DATASETS.register_module()
class TextCorpusDataset(BaseDataset):
    """One sample per non-empty line of a UTF-8 text file: ``dict(text=line)``.

    Args:
        ann_file (str): the text file (relative to ``data_root`` if given).
        pipeline (list): e.g. ``[dict(type='mmpretrain.PackInputs', algorithm_keys=['text'])]``.
        **kwargs: ``mmengine.dataset.BaseDataset`` arguments (``data_root``, ``indices``, ...).
    """

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'TextCorpusDataset: ann_file not found: {self.ann_file}')
        with open(self.ann_file, encoding='utf-8') as f:
            data = [dict(text=line.strip()) for line in f if line.strip()]
        if not data:
            raise ValueError(f'TextCorpusDataset: ann_file {self.ann_file} has no non-empty line')
        return data
