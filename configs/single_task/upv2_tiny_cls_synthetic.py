# Classification alone on the synthetic scenes (20 classes = the dominant object's category):
# x = [<SPE>, image tokens], Y = the class names; mmpretrain Accuracy.
_base_ = [
    '../_base_/models/upv2_tiny_mobilenetv2.py',
    '../_base_/schedules/upv2_single_task_cpu.py',
]
data_root = 'data/synthetic'
classes_file = data_root + '/meta/classes.txt'
model = dict(tasks=dict(synthetic_cls=dict(type='ClassificationTask', class_names=classes_file)))

meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(64, 64)),
    dict(type='mmpretrain.PackInputs', meta_keys=meta_keys),
]
test_pipeline = train_pipeline
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mmpretrain.ImageNet', data_root=data_root, split='train',
                 classes=classes_file, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='mmpretrain.ImageNet', data_root=data_root, split='val',
                 classes=classes_file, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
