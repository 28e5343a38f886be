# Detection + instance segmentation alone on the synthetic scenes (python
# tools/data/generate_synthetic.py -> data/synthetic/, 128 px, 20 classes): every proposal token of
# the Mask DINO proposal network (all queries) is decoded with the image's global tokens and
# classified by the unified likelihood against the class names (DetectionTask, sigmoid focal "no
# object"); boxes and masks come from the proposal network, trained in the same iterations.
# mmdet CocoMetric (bbox, segm).
_base_ = [
    '../../../../configs/_base_/models/upv2_tiny_mobilenetv2.py',
    '../../../../configs/_base_/datasets/synthetic_multitask.py',
    '../../../../configs/_base_/schedules/upv2_single_task_cpu.py',
]
model = dict(tasks=dict(synthetic_det={{_base_.syn_det_task}}))
train_dataloader = {{_base_.syn_det_train_dataloader}}  # as multi-task: no flips
val_dataloader = {{_base_.syn_det_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.syn_det_val_evaluator}}
test_evaluator = val_evaluator

# detection needs more steps than the other single tasks (the proposal network starts untrained)
max_iters = 1000
optim_wrapper = dict(optimizer=dict(lr=4e-4))  # 1e-3 diverges (focal logits blow up)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
