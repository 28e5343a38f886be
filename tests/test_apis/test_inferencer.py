"""UniPerceiverV2Inferencer on the embedded-default config (untrained weights): every task runs on
a real photograph, results are drawn, and bad input gets a clear error."""
import os.path as osp

import mmcv
import pytest
import torch
from mmengine.config import Config

from uniperceiver_v2.apis import UniPerceiverV2Inferencer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def inferencer(synthetic_data):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py'))
    tasks = cfg.model.tasks
    tasks.syn_cls.class_names = synthetic_data['classes_file']
    tasks.syn_cap.vocabulary = synthetic_data['train']['karpathy']
    tasks.syn_cap.max_length = 5
    cfg.model.image_encoder.proposal_checkpoint = None  # untrained: no stage-1 checkpoint
    torch.manual_seed(0)
    return UniPerceiverV2Inferencer(cfg)


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    from skimage import data
    path = str(tmp_path_factory.mktemp('photos') / 'chelsea.png')
    mmcv.imwrite(mmcv.imrescale(data.chelsea()[..., ::-1], 0.3), path)
    return path


def test_all_tasks_on_a_real_photo_and_drawn(inferencer, photo, tmp_path):
    (res, ) = inferencer([photo], out_dir=str(tmp_path))
    name, score = res['class']
    assert name in inferencer.model.tasks['syn_cls'].class_names and 0 <= score <= 1
    det = res['detections']
    h, w = mmcv.imread(photo).shape[:2]
    assert det.bboxes.shape[1] == 4 and len(det) > 0
    assert float(det.bboxes[:, 2].max()) <= w + 1e-3 and float(det.bboxes[:, 3].max()) <= h + 1e-3
    assert det.masks.shape[-2:] == (h, w)
    assert isinstance(res['caption'], str)
    drawn = mmcv.imread(res['drawn'])
    assert drawn.shape[0] > h  # the image with a banner holding class and caption


def test_ranking_both_directions(inferencer, photo, synthetic_data):
    import glob
    images = sorted(glob.glob(osp.join(synthetic_data['val']['img_dir'], '*.png')))[:3] + [photo]
    ranked = inferencer.rank_images('a red circle', images)
    assert sorted(p for p, _ in ranked) == sorted(images)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    texts = inferencer.rank_texts(photo, ['a cat', 'a blue star', 'two circles'])
    assert len(texts) == 3 and texts[0][1] >= texts[-1][1]


def test_open_vocabulary_class_names(inferencer, photo):
    inferencer.model.tasks['syn_det'].set_class_names(['cat', 'dog'])
    try:
        (res, ) = inferencer([photo], tasks=('detection', ))
        assert int(res['detections'].labels.max()) <= 1
        assert res['det_class_names'] == ['cat', 'dog']
    finally:
        inferencer.model.tasks['syn_det'].test_class_names = None


def test_missing_and_corrupt_images(inferencer, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.png'):
        inferencer([str(tmp_path / 'nope.png')])
    bad = tmp_path / 'corrupt.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\nnot really')
    with pytest.raises(ValueError, match='corrupt.png is not a readable image'):
        inferencer([str(bad)])


def test_empty_class_list_is_rejected(inferencer):
    with pytest.raises(ValueError, match='class list is empty'):
        inferencer.model.tasks['syn_cls'].set_class_names([])


def test_too_small_image_gets_a_clear_error(inferencer, tmp_path):
    """8x8 px: the proposal network has fewer encoder tokens than queries."""
    import numpy as np
    path = str(tmp_path / 'tiny.png')
    mmcv.imwrite(np.full((8, 8, 3), 128, np.uint8), path)
    with pytest.raises(ValueError, match=r'at least \d+x\d+ px'):
        inferencer([path], tasks=('detection', ))
