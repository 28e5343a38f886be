"""A classification + language-modelling model and an image batch tagged with its task, shared by
the model and data-preprocessor tests."""
import torch
from mmpretrain.structures import DataSample

CLASSES = ['red circle', 'blue square', 'green triangle']


def two_task_model(build_model):
    """``build_model`` fixture -> a model with tasks ``cls`` and ``mlm``."""
    return build_model(dict(
        cls=dict(type='ClassificationTask', class_names=CLASSES),
        mlm=dict(type='LanguageModelingTask', vocabulary=list(range(999, 1200)))))


def image_batch(task):
    """Two images of different sizes with class labels, as a data batch of ``task``."""
    imgs = [torch.randint(0, 255, (3, 64, 60), dtype=torch.uint8),
            torch.randint(0, 255, (3, 60, 64), dtype=torch.uint8)]
    samples = [DataSample(metainfo=dict(img_shape=(64, 60))).set_gt_label(1),
               DataSample(metainfo=dict(img_shape=(60, 64))).set_gt_label(2)]
    return dict(inputs=imgs, data_samples=samples, task=task)
