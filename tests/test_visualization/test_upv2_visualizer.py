"""UniPerceiverV2Visualizer and MultiTaskVisualizationHook draw every task's prediction."""
import os.path as osp
from types import SimpleNamespace

import mmcv
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from mmpretrain.structures import DataSample

from uniperceiver_v2.visualization import MultiTaskVisualizationHook, UniPerceiverV2Visualizer


def _image():
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    img[16:48, 16:48] = (0, 200, 0)
    return img


def test_detection_masks_and_boxes_are_drawn(tmp_path):
    vis = UniPerceiverV2Visualizer(name='vis_det', class_names=['green square'])
    sample = DetDataSample()
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 16:48, 16:48] = True
    sample.pred_instances = InstanceData(bboxes=torch.tensor([[16., 16., 48., 48.]]),
                                         labels=torch.tensor([0]), scores=torch.tensor([0.9]),
                                         masks=masks)
    vis.dataset_meta = dict(classes=['green square'], palette=[(255, 0, 0)])
    out = tmp_path / 'det.png'
    vis.add_datasample('det', _image(), sample, out_file=str(out))
    drawn = mmcv.imread(str(out), channel_order='rgb')
    assert drawn.shape == (64, 64, 3)
    # the mask and box colour (red palette) is blended into the green square
    assert drawn[32, 32, 0] > 50


def test_class_and_caption_banner(tmp_path):
    vis = UniPerceiverV2Visualizer(name='vis_txt', class_names=['red circle', 'green square'])
    sample = DataSample().set_pred_label(1).set_pred_score(torch.tensor([0.2, 0.8]))
    sample.pred_caption = 'a green square in the middle'
    out = tmp_path / 'cls.png'
    vis.add_datasample('cls', _image(), sample, out_file=str(out))
    drawn = mmcv.imread(str(out), channel_order='rgb')
    # enlarged to 256 px wide, with a white banner holding two lines of dark text on top
    assert drawn.shape[1] == 256 and drawn.shape[0] > 256
    banner = drawn[:drawn.shape[0] - 256]
    assert (banner == 255).mean() > 0.5 and (banner < 128).any()
    assert vis.prediction_lines(sample) == ['class: green square (0.80)',
                                            'caption: a green square in the middle']


def test_hook_writes_one_folder_per_task(tmp_path):
    img_path = tmp_path / 'img_1.png'
    mmcv.imwrite(_image(), str(img_path))
    UniPerceiverV2Visualizer.get_instance('vis_hook', class_names=['a', 'b'])
    hook = MultiTaskVisualizationHook(draw=True, test_out_dir='show')
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='ts')
    hook.before_test(runner)
    sample = DataSample(metainfo=dict(img_path=str(img_path)))
    sample.pred_caption = 'two shapes'
    hook.after_test_iter(runner, 0, dict(task='coco_cap'), [sample])
    assert osp.isfile(tmp_path / 'ts' / 'show' / 'coco_cap' / 'img_1.png')


def test_hook_skips_samples_without_a_drawable_prediction(tmp_path):
    img_path = tmp_path / 'img_2.png'
    mmcv.imwrite(_image(), str(img_path))
    UniPerceiverV2Visualizer.get_instance('vis_hook_skip')
    hook = MultiTaskVisualizationHook(draw=True, test_out_dir='show')
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='ts')
    hook.before_test(runner)
    sample = DataSample(metainfo=dict(img_path=str(img_path)))
    sample.image_embedding = torch.zeros(4)  # a retrieval output: nothing to draw
    hook.after_test_iter(runner, 0, dict(task='coco_ret'), [sample])
    assert not osp.exists(tmp_path / 'ts' / 'show' / 'coco_ret')
