# Captioning alone on the synthetic scenes: every next token scored against the vocabulary's
# embeddings (vocabulary = the token ids of the training captions + special tokens), beam search;
# BLEU / CIDEr with the offline CaptionMetric (mmpretrain COCOCaption's input format).
_base_ = [
    '../_base_/models/upv2_tiny_mobilenetv2.py',
    '../_base_/schedules/upv2_single_task_cpu.py',
]
data_root = 'data/synthetic'
model = dict(tasks=dict(synthetic_cap=dict(
    type='CaptioningTask', vocabulary=data_root + '/annotations/coco_karpathy_train.json',
    beam_size=2, max_length=30, label_smoothing=0.1)))

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(64, 64)),
    dict(type='mmpretrain.CleanCaption', keys='gt_caption'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id', 'img_shape']),
]
test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(64, 64)),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['gt_caption'],
         meta_keys=['image_id', 'img_shape']),
]
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mmpretrain.COCOCaption', data_root=data_root,
                 ann_file='annotations/coco_karpathy_train.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='mmpretrain.COCOCaption', data_root=data_root,
                 ann_file='annotations/coco_karpathy_val.json', pipeline=test_pipeline))
test_dataloader = val_dataloader
# references from each sample's gt_caption (the val entries carry all 5 captions of the image)
val_evaluator = dict(type='CaptionMetric', use_meteor=False)
test_evaluator = val_evaluator
