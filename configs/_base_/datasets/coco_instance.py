# COCO 2017 instances (data/coco, docs/dataset_preparation.md) for the detection + instance segmentation
# task: mmdet CocoDataset, CocoMetric (bbox, segm).  Every name is prefixed `coco_det_` so this base
# can be combined with the other task bases (mmengine forbids one key in two `_base_` files); the top
# config puts them under its task name: train_dataloader = dict(coco_det={{_base_.coco_det_train_dataloader}}).
coco_det_data_root = 'data/coco/'
# Masks are always loaded: the Mask DINO-like proposal network trains its mask branch on them [paper].
coco_det_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    # [ours] the DINO / Mask DINO COCO augmentation (multi-scale resize or resize-crop-resize)
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize',
              scales=[(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333),
                      (640, 1333), (672, 1333), (704, 1333), (736, 1333), (768, 1333),
                      (800, 1333)],
              keep_ratio=True)],
        [dict(type='RandomChoiceResize', scales=[(400, 4200), (500, 4200), (600, 4200)],
              keep_ratio=True),
         dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
              allow_negative_crop=True),
         dict(type='RandomChoiceResize',
              scales=[(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333),
                      (640, 1333), (672, 1333), (704, 1333), (736, 1333), (768, 1333),
                      (800, 1333)],
              keep_ratio=True)]]),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='PackDetInputs'),
]
coco_det_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
coco_det_train_dataloader = dict(
    batch_size=2,  # [ours] per GPU (Mask DINO: 2 images per GPU)
    # [ours] 2 workers per task: a multi-task run keeps one train loader per task alive
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type='CocoDataset', data_root=coco_det_data_root,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'),
                 filter_cfg=dict(filter_empty_gt=False, min_size=32),
                 pipeline=coco_det_train_pipeline))
coco_det_val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    # evaluation loaders run one task after the other: their workers exit after each pass
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoDataset', data_root=coco_det_data_root,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True,
                 pipeline=coco_det_test_pipeline))
coco_det_test_dataloader = coco_det_val_dataloader
coco_det_val_evaluator = dict(type='CocoMetric',
                              ann_file=coco_det_data_root + 'annotations/instances_val2017.json',
                              metric=['bbox', 'segm'], format_only=False)
coco_det_test_evaluator = coco_det_val_evaluator
# The 80 class names (mmdet CocoDataset.METAINFO order = gt label index): the candidate set Y of
# the detection task.
coco_det_classes = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich',
    'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
    'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book',
    'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
)
