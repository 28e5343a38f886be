# Detection + instance segmentation alone on the synthetic scenes (python
# tools/data/generate_synthetic.py -> data/synthetic/, 128 px, 20 classes): every proposal token of
# the Mask DINO proposal network (all queries) is decoded with the image's global tokens and
# classified by the unified likelihood against the class names (DetectionTask, sigmoid focal "no
# object"); boxes and masks come from the proposal network, trained in the same iterations.
# mmdet CocoMetric (bbox, segm).
_base_ = [
    '../_base_/models/upv2_tiny_mobilenetv2.py',
    '../_base_/schedules/upv2_single_task_cpu.py',
]
data_root = 'data/synthetic/'
classes_file = data_root + 'meta/classes.txt'
classes = ('red circle', 'green circle', 'blue circle', 'yellow circle', 'red square',
           'green square', 'blue square', 'yellow square', 'red triangle', 'green triangle',
           'blue triangle', 'yellow triangle', 'red star', 'green star', 'blue star', 'yellow star',
           'red hexagon', 'green hexagon', 'blue hexagon', 'yellow hexagon')
model = dict(tasks=dict(synthetic_det=dict(
    type='DetectionTask', class_names=classes_file, no_object='sigmoid',
    score_mode='class*objectness', max_per_img=30, with_mask=True,
    # [ours] 5x the default: the proposal losses otherwise dominate the shared gradient
    loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=10.0))))

meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys + ('flip', 'flip_direction')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=False), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=25, num_workers=1, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'])
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
