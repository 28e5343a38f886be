# RefCOCO, RefCOCO+ and RefCOCOg (referring expressions over COCO train2014 images) in the layout
# of the refer toolkit (lichengunc/refer), read by mmpretrain RefCOCO (one sample per expression)
# with mmpretrain's pipeline and scored by mmpretrain VisualGroundingMetric (acc = precision@1 at
# IoU 0.5); for GroundingTask:
#
#   data/coco/
#   ├── train2014/COCO_train2014_*.jpg
#   ├── refcoco/   instances.json  refs(unc).p      splits train / val / testA / testB
#   ├── refcoco+/  instances.json  refs(unc).p      splits train / val / testA / testB
#   └── refcocog/  instances.json  refs(umd).p      splits train / val / test
#
# Names prefixed `refcoco_`, `refcocop_` (RefCOCO+) and `refcocog_`.
ref_data_root = 'data/coco'
ref_ground_task = dict(type='GroundingTask', family='grounding')  # all proposals as candidates
ref_meta_keys = ('image_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
ref_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    # [ours] the detection test scale; boxes stay in original pixels (scale_factor recorded)
    dict(type='mmpretrain.Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_bboxes'],
         meta_keys=ref_meta_keys),
]
ref_test_pipeline = ref_train_pipeline
# [ours] 2 workers per task; evaluation workers exit after each pass; evaluation at batch 1 at
# the detection test scale, as coco_instance.py (batch 8 x 1333x800 needed > 14 GB host memory)
ref_train_loader = dict(batch_size=4, num_workers=2, persistent_workers=True, drop_last=True,
                        sampler=dict(type='ResumableInfiniteSampler', shuffle=True))
ref_test_loader = dict(batch_size=1, num_workers=2, persistent_workers=False, drop_last=False,
                       sampler=dict(type='DefaultSampler', shuffle=False))
refcoco_dataset = dict(type='mmpretrain.RefCOCO', data_root=ref_data_root, data_prefix='train2014',
                       ann_file='refcoco/instances.json', split_file='refcoco/refs(unc).p')
refcocop_dataset = dict(refcoco_dataset, ann_file='refcoco+/instances.json',
                        split_file='refcoco+/refs(unc).p')
refcocog_dataset = dict(refcoco_dataset, ann_file='refcocog/instances.json',
                        split_file='refcocog/refs(umd).p')
refcoco_train_dataloader = dict(**ref_train_loader, dataset=dict(
    **refcoco_dataset, split='train', pipeline=ref_train_pipeline))
refcoco_val_dataloader = dict(**ref_test_loader, dataset=dict(
    **refcoco_dataset, split='val', pipeline=ref_test_pipeline))
refcocop_train_dataloader = dict(**ref_train_loader, dataset=dict(
    **refcocop_dataset, split='train', pipeline=ref_train_pipeline))
refcocop_val_dataloader = dict(**ref_test_loader, dataset=dict(
    **refcocop_dataset, split='val', pipeline=ref_test_pipeline))
refcocog_train_dataloader = dict(**ref_train_loader, dataset=dict(
    **refcocog_dataset, split='train', pipeline=ref_train_pipeline))
refcocog_val_dataloader = dict(**ref_test_loader, dataset=dict(
    **refcocog_dataset, split='val', pipeline=ref_test_pipeline))
ref_val_evaluator = dict(type='mmpretrain.VisualGroundingMetric')
