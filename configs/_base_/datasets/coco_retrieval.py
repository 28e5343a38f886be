# COCO image-text retrieval, Karpathy split (data/coco: train2014/, val2014/ and the COCO-format
# caption files of the Karpathy splits with coco_url - mmpretrain's caption_karpathy_*2014.json from
# https://download.openmmlab.com/mmclassification/datasets/coco_retrieval/): mmpretrain
# COCORetrieval, the plugin's BidirectionalRetrievalRecall (i2t and t2i Recall@1/5/10 over the whole
# split).  Names prefixed `coco_ret_` (see coco_instance.py for why).
coco_ret_data_root = 'data/coco'
coco_ret_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    # [ours] mmpretrain's BLIP retrieval crop and flip at 384 px (no RandAugment)
    dict(type='mmpretrain.RandomResizedCrop', scale=384, crop_ratio_range=(0.5, 1.0),
         interpolation='bicubic', backend='pillow'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text'],
         meta_keys=['image_id', 'img_shape']),
]
coco_ret_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
         meta_keys=['image_id', 'img_shape']),
]
coco_ret_train_dataloader = dict(
    batch_size=32,  # [ours] per GPU; negatives are gathered over all GPUs [paper]
    num_workers=2,  # [ours] per task (see coco_instance.py)
    persistent_workers=True,
    drop_last=True,  # equal batch on every rank for the feature all-gather
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(type='mmpretrain.COCORetrieval', data_root=coco_ret_data_root,
                 ann_file='annotations/caption_karpathy_train2014.json',
                 pipeline=coco_ret_train_pipeline))
# val and test differ only in the annotation file
coco_ret_eval_loader = dict(batch_size=64, num_workers=2, persistent_workers=False,
                            sampler=dict(type='DefaultSampler', shuffle=False))
coco_ret_eval_dataset = dict(type='mmpretrain.COCORetrieval', data_root=coco_ret_data_root,
                             pipeline=coco_ret_test_pipeline, test_mode=True)
coco_ret_val_dataloader = dict(**coco_ret_eval_loader, dataset=dict(
    **coco_ret_eval_dataset, ann_file='annotations/caption_karpathy_val2014.json'))
coco_ret_test_dataloader = dict(**coco_ret_eval_loader, dataset=dict(
    **coco_ret_eval_dataset, ann_file='annotations/caption_karpathy_test2014.json'))
coco_ret_val_evaluator = dict(type='BidirectionalRetrievalRecall', topk=(1, 5, 10))
coco_ret_test_evaluator = coco_ret_val_evaluator
