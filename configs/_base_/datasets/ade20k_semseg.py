# ADE20K (SceneParsing, 150 classes) in mmseg's layout, read by mmseg ADE20KDataset with mmseg's
# standard pipeline and scored by mmseg IoUMetric (mIoU); for SemanticSegmentationTask:
#
#   data/ade/ADEChallengeData2016/
#   ├── images/{training,validation}/ADE_*.jpg
#   └── annotations/{training,validation}/ADE_*.png     (0 = other -> 255 by reduce_zero_label)
#
# Names prefixed `ade_`.
ade_data_root = 'data/ade/ADEChallengeData2016'
# mmseg ADE20KDataset.METAINFO['classes'] (its 'bed ' without the trailing space): the text side
# of the class likelihood; index = label after reduce_zero_label
ade_classes = (
    'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed', 'windowpane',
    'grass', 'cabinet', 'sidewalk', 'person', 'earth', 'door', 'table', 'mountain', 'plant',
    'curtain', 'chair', 'car', 'water', 'painting', 'sofa', 'shelf', 'house', 'sea', 'mirror',
    'rug', 'field', 'armchair', 'seat', 'fence', 'desk', 'rock', 'wardrobe', 'lamp', 'bathtub',
    'railing', 'cushion', 'base', 'box', 'column', 'signboard', 'chest of drawers', 'counter',
    'sand', 'sink', 'skyscraper', 'fireplace', 'refrigerator', 'grandstand', 'path', 'stairs',
    'runway', 'case', 'pool table', 'pillow', 'screen door', 'stairway', 'river', 'bridge',
    'bookcase', 'blind', 'coffee table', 'toilet', 'flower', 'book', 'hill', 'bench',
    'countertop', 'stove', 'palm', 'kitchen island', 'computer', 'swivel chair', 'boat', 'bar',
    'arcade machine', 'hovel', 'bus', 'towel', 'light', 'truck', 'tower', 'chandelier',
    'awning', 'streetlight', 'booth', 'television receiver', 'airplane', 'dirt track',
    'apparel', 'pole', 'land', 'bannister', 'escalator', 'ottoman', 'bottle', 'buffet',
    'poster', 'stage', 'van', 'ship', 'fountain', 'conveyer belt', 'canopy', 'washer',
    'plaything', 'swimming pool', 'stool', 'barrel', 'basket', 'waterfall', 'tent', 'bag',
    'minibike', 'cradle', 'oven', 'ball', 'food', 'step', 'tank', 'trade name', 'microwave',
    'pot', 'animal', 'bicycle', 'lake', 'dishwasher', 'screen', 'blanket', 'sculpture', 'hood',
    'sconce', 'vase', 'traffic light', 'tray', 'ashcan', 'fan', 'pier', 'crt screen', 'plate',
    'monitor', 'bulletin board', 'shower', 'radiator', 'glass', 'clock', 'flag')

ade_seg_task = dict(type='SemanticSegmentationTask', class_names=ade_classes)

ade_crop_size = (512, 512)
ade_train_pipeline = [  # mmseg configs/_base_/datasets/ade20k.py
    dict(type='mmseg.LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations', reduce_zero_label=True),
    dict(type='mmseg.RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=ade_crop_size, cat_max_ratio=0.75),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.PackSegInputs'),
]
ade_test_pipeline = [
    dict(type='mmseg.LoadImageFromFile'),
    dict(type='mmseg.Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='mmseg.LoadAnnotations', reduce_zero_label=True),
    dict(type='mmseg.PackSegInputs'),
]
ade_dataset = dict(type='mmseg.ADE20KDataset', data_root=ade_data_root)
ade_train_dataloader = dict(  # [ours] 2 workers per task (see coco_instance.py)
    batch_size=4, num_workers=2, persistent_workers=True, drop_last=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(**ade_dataset, pipeline=ade_train_pipeline, data_prefix=dict(
        img_path='images/training', seg_map_path='annotations/training')))
ade_val_dataloader = dict(  # workers exit after each evaluation pass
    batch_size=1, num_workers=2, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**ade_dataset, pipeline=ade_test_pipeline, data_prefix=dict(
        img_path='images/validation', seg_map_path='annotations/validation')))
ade_val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
