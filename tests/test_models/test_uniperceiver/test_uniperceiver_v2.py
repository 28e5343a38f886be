"""UniPerceiverV2: routing by the batch's 'task' key through train_step, config errors."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

CLASSES = ['red circle', 'blue square', 'green triangle']


def two_task_model(build_model):
    return build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES),
                            mlm=dict(type='LanguageModelingTask', vocabulary=list(range(999, 1200)))))


def image_batch(task):
    imgs = [torch.randint(0, 255, (3, 64, 60), dtype=torch.uint8),
            torch.randint(0, 255, (3, 60, 64), dtype=torch.uint8)]
    samples = [DataSample(metainfo=dict(img_shape=(64, 60))).set_gt_label(1),
               DataSample(metainfo=dict(img_shape=(60, 64))).set_gt_label(2)]
    return dict(inputs=imgs, data_samples=samples, task=task)


def test_train_step_routes_by_task_key(build_model):
    model = two_task_model(build_model)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    log = model.train_step(image_batch('cls'), optim)
    assert 'loss_cls' in log and 'loss_mlm' not in log
    text = pseudo_collate([dict(data_samples=DataSample(text='a red circle on the left')),
                           dict(data_samples=DataSample(text='two blue squares'))])
    text['task'] = 'mlm'
    log = model.train_step(text, optim)
    assert 'loss_mlm' in log and torch.isfinite(log['loss'])
    # without the task key and with two tasks configured: a clear error
    with pytest.raises(ValueError, match='"task" key'):
        model.train_step(image_batch(None), optim)


def test_config_errors(build_model):
    with pytest.raises(ValueError, match='model.tasks'):
        build_model({})
    with pytest.raises(ValueError, match='empty'):
        build_model(dict(cls=dict(type='ClassificationTask', class_names=[])))
    with pytest.raises(ValueError, match='families'):
        build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES,
                                  family='unknown_family')))
