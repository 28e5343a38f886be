"""UniPerceiverV2Visualizer on grounding (the expression in the banner, the region drawn) and on
mmseg semantic maps (``pred_sem_seg.data``, drawn with or without dataset names / palette)."""
import mmcv
import numpy as np
import torch
from mmengine.structures import InstanceData, PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from uniperceiver_v2.visualization import UniPerceiverV2Visualizer


def _image():
    return np.full((64, 64, 3), 128, np.uint8)


def test_grounding_sample_drawn_with_its_expression(tmp_path):
    vis = UniPerceiverV2Visualizer.get_instance('vis_ground_test')
    sample = DataSample(text='the red circle')
    sample.pred_instances = InstanceData(bboxes=torch.tensor([[8., 8., 40., 40.]]),
                                         scores=torch.tensor([0.9]), labels=torch.tensor([0]))
    sample.pred_bboxes = sample.pred_instances.bboxes
    assert vis.prediction_lines(sample) == ['expression: the red circle']
    out = tmp_path / 'g.png'
    vis.add_datasample('g', _image(), sample, out_file=str(out))
    assert mmcv.imread(str(out)).shape[0] > 64  # banner above the image


def test_mmseg_semantic_map_drawn(tmp_path):
    vis = UniPerceiverV2Visualizer.get_instance('vis_semseg_test')
    labels = torch.full((1, 64, 64), 255)
    labels[0, 10:30, 10:30] = 3
    sample = SegDataSample(pred_sem_seg=PixelData(data=labels))
    for meta in (None, dict(classes=('a', 'b', 'c', 'd'))):  # no dataset; names without palette
        vis.dataset_meta = meta
        out = tmp_path / 's.png'
        vis.add_datasample('s', _image(), sample, out_file=str(out))
        drawn = mmcv.imread(str(out))
        assert drawn.shape[:2] == (64, 64)
        assert (drawn[20, 20] != 128).any() and (drawn[50, 50] == 128).all()  # only label 3
