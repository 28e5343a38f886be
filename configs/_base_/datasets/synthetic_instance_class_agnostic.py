# The embedded synthetic scenes (tools/data/generate_synthetic.py -> data/synthetic/), instances
# with every category merged into one `object` class (class-agnostic proposals):
# coco_instance_class_agnostic.py with the synthetic files, at their native 128 px (no resize).
_base_ = ['./coco_instance_class_agnostic.py']
data_root = 'data/synthetic/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    batch_sampler=None,  # square images: no aspect-ratio grouping
    dataset=dict(data_root=data_root, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(_delete_=True,
                                                                 filter_empty_gt=False),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(data_root=data_root, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
