# COCO captions, Karpathy split (data/coco: train2014/, val2014/, annotations/coco_karpathy_*.json;
# docs/dataset_preparation.md) for the captioning task: mmpretrain COCOCaption, the plugin's offline
# CaptionMetric (BLEU-4, CIDEr, ...) against the COCO-format ground truth.  Names prefixed
# `coco_cap_` (see coco_instance.py for why).
coco_cap_data_root = 'data/coco'
coco_cap_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    # [ours] mmpretrain's BLIP caption recipe at 384 px
    dict(type='mmpretrain.RandomResizedCrop', scale=384, crop_ratio_range=(0.5, 1.0),
         interpolation='bicubic', backend='pillow'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.CleanCaption', keys='gt_caption'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['gt_caption'],
         meta_keys=['image_id', 'img_shape']),
]
coco_cap_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='mmpretrain.PackInputs', meta_keys=['image_id', 'img_shape']),
]
coco_cap_train_dataloader = dict(
    batch_size=32,  # [ours] per GPU
    num_workers=2,  # [ours] per task (see coco_instance.py)
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(type='mmpretrain.COCOCaption', data_root=coco_cap_data_root,
                 ann_file='annotations/coco_karpathy_train.json',
                 pipeline=coco_cap_train_pipeline))
# val and test differ only in the annotation file
coco_cap_eval_loader = dict(batch_size=32, num_workers=2, persistent_workers=False,
                            sampler=dict(type='DefaultSampler', shuffle=False))
coco_cap_eval_dataset = dict(type='mmpretrain.COCOCaption', data_root=coco_cap_data_root,
                             pipeline=coco_cap_test_pipeline)
coco_cap_val_dataloader = dict(**coco_cap_eval_loader, dataset=dict(
    **coco_cap_eval_dataset, ann_file='annotations/coco_karpathy_val.json'))
coco_cap_test_dataloader = dict(**coco_cap_eval_loader, dataset=dict(
    **coco_cap_eval_dataset, ann_file='annotations/coco_karpathy_test.json'))
# [ours] SPICE off (needs a CoreNLP download); METEOR needs Java
coco_cap_val_evaluator = dict(type='CaptionMetric',
                              ann_file=coco_cap_data_root + '/annotations/coco_karpathy_val_gt.json',
                              use_spice=False)
coco_cap_test_evaluator = dict(type='CaptionMetric',
                               ann_file=coco_cap_data_root
                               + '/annotations/coco_karpathy_test_gt.json',
                               use_spice=False)
