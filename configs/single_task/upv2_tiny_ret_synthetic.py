# Image-text retrieval alone on the synthetic scenes (5 captions per image): symmetric CE with label
# smoothing over in-batch negatives; mmpretrain RetrievalValLoop + RetrievalRecall (i2t and t2i).
_base_ = [
    '../_base_/models/upv2_tiny_mobilenetv2.py',
    '../_base_/schedules/upv2_single_task_cpu.py',
]
data_root = 'data/synthetic'
model = dict(tasks=dict(synthetic_ret=dict(type='RetrievalTask', gather_features=True,
                                           label_smoothing=0.1)))

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(64, 64)),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text'], meta_keys=['image_id', 'img_shape']),
]
test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(64, 64)),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
         meta_keys=['image_id', 'img_shape']),
]
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mmpretrain.COCORetrieval', data_root=data_root,
                 ann_file='annotations/coco_karpathy_train_gt.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='mmpretrain.COCORetrieval', data_root=data_root,
                 ann_file='annotations/coco_karpathy_val_gt.json', pipeline=test_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_cfg = dict(_delete_=True, type='mmpretrain.RetrievalValLoop')
test_cfg = dict(_delete_=True, type='mmpretrain.RetrievalTestLoop')
val_evaluator = dict(type='mmpretrain.RetrievalRecall', topk=(1, 5, 10))
test_evaluator = val_evaluator
