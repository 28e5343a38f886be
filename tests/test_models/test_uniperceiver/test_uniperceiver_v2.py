"""UniPerceiverV2: routing by the batch's 'task' key through train_step, config errors."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

from two_task_batch import CLASSES, image_batch, two_task_model  # noqa: E402


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
    with pytest.raises(ValueError, match="'task' key"):
        model.train_step(image_batch(None), optim)


def test_config_errors(build_model):
    with pytest.raises(ValueError, match='model.tasks'):
        build_model({})
    with pytest.raises(ValueError, match='empty'):
        build_model(dict(cls=dict(type='ClassificationTask', class_names=[])))
    with pytest.raises(ValueError, match='families'):
        build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES,
                                  family='unknown_family')))
