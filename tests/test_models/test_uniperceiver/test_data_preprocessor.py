"""UniPerceiverV2DataPreprocessor: keeps the batch's task, pads mmdet masks, accepts mmpretrain
samples."""
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from two_task_batch import image_batch, two_task_model  # noqa: E402


def test_val_step_and_preprocessor_keep_task(build_model):
    model = two_task_model(build_model)
    data = model.data_preprocessor(image_batch('cls'), False)
    assert data['task'] == 'cls' and data['inputs'].shape == (2, 3, 64, 64)
    assert data['data_samples'][0].batch_input_shape == (64, 64)
    out = model.val_step(image_batch('cls'))
    assert out[0].pred_score.shape == (3,)
    # mmdet samples with masks are padded like DetDataPreprocessor does
    det = DetDataSample(metainfo=dict(img_shape=(60, 64)))
    det.gt_instances = InstanceData(
        masks=BitmapMasks(torch.ones(1, 60, 64).numpy(), 60, 64), bboxes=torch.zeros(1, 4))
    batch = dict(inputs=[torch.zeros(3, 60, 64, dtype=torch.uint8)], data_samples=[det],
                 task=['cls'])
    pre = model.data_preprocessor.__class__(pad_size_divisor=32, pad_mask=True)
    out = pre(batch, True)
    assert out['data_samples'][0].gt_instances.masks.masks.shape[-2:] == (64, 64)
    assert out['task'] == 'cls'
