"""UniPerceiverV2Inferencer.ground / segment on the 7-task config (untrained weights): one
region per expression and a class per pixel, in original pixels, drawn; class names at call time."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from uniperceiver_v2.apis import UniPerceiverV2Inferencer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def inferencer(synthetic_data):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-1900it_synthetic-7task.py'))
    cfg.model.tasks.syn_cls.class_names = synthetic_data['classes_file']
    cfg.model.tasks.syn_cap.vocabulary = synthetic_data['train']['karpathy']
    cfg.model.image_encoder.proposal_checkpoint = None  # untrained: no stage-1 checkpoint
    torch.manual_seed(0)
    return UniPerceiverV2Inferencer(cfg)


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    from skimage import data
    path = str(tmp_path_factory.mktemp('photos') / 'coffee.png')
    mmcv.imwrite(mmcv.imrescale(data.coffee()[..., ::-1], 0.25), path)
    return path


def test_ground_returns_one_region_per_expression_drawn(inferencer, photo, tmp_path):
    h, w = mmcv.imread(photo).shape[:2]
    texts = ['the cup', 'the red circle to the left of the blue star']
    results = inferencer.ground(photo, texts, out_dir=str(tmp_path))
    assert [r['expression'] for r in results] == texts
    task = inferencer.model.tasks['syn_ground']
    for r in results:
        x0, y0, x1, y1 = r['bbox']
        assert 0 <= x0 <= x1 <= w + 1e-3 and 0 <= y0 <= y1 <= h + 1e-3
        assert 0 < r['score'] <= 1 and r['mask'].shape == (h, w)
        drawn = mmcv.imread(r['drawn'])
        assert drawn.shape[:2] == (h, w)
    # the same as the task's prediction on the pipeline's sample
    inputs, samples = inferencer._single('grounding', photo, text=texts[0])
    with torch.no_grad():
        (sample, ) = task.predict(inferencer.model, inputs, samples, texts=[texts[0]])
    assert np.allclose(sample.pred_bboxes[0].tolist(), results[0]['bbox'])
    with pytest.raises(ValueError, match='non-empty expressions'):
        inferencer.ground(photo, [])


def test_segment_with_call_time_class_names_drawn(inferencer, photo, tmp_path):
    h, w = mmcv.imread(photo).shape[:2]
    names = ['cup', 'saucer', 'table']
    result = inferencer.segment(photo, class_names=names, out_dir=str(tmp_path))
    assert result['class_names'] == names and result['scores'].shape == (3, h, w)
    assert torch.equal(result['sem_seg'], result['scores'].argmax(0))
    assert mmcv.imread(result['drawn']).shape[:2] == (h, w)
    task = inferencer.model.tasks['syn_seg']
    assert len(task.class_names) == 20 and task.test_class_names is None  # nothing replaced
    default = inferencer.segment(photo)
    assert default['scores'].shape[0] == 20
