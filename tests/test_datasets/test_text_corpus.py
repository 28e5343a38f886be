"""TextCorpusDataset: one sample per non-empty line, clear errors."""
import pytest
from mmdet.registry import DATASETS

import uniperceiver_v2  # noqa: F401


def test_text_corpus_dataset(tmp_path):
    f = tmp_path / 'corpus.txt'
    f.write_text('a red circle\n\n  two blue squares  \n', encoding='utf-8')
    ds = DATASETS.build(dict(type='TextCorpusDataset', ann_file=str(f),
                             pipeline=[dict(type='mmpretrain.PackInputs', algorithm_keys=['text'])]))
    assert len(ds) == 2 and ds[1]['data_samples'].text == 'two blue squares'
    assert 'inputs' not in ds[0]
    with pytest.raises(FileNotFoundError, match='ann_file'):
        DATASETS.build(dict(type='TextCorpusDataset', ann_file=str(tmp_path / 'none.txt')))
