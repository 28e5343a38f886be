# The embedded synthetic scenes (python tools/data/generate_synthetic.py -> data/synthetic/:
# 128 px, 20 classes, 5 captions per image) for all four tasks, in the same real on-disk formats
# as the COCO / ImageNet bases: each task's formulation, pipelines, data loaders and evaluator,
# names prefixed `syn_<task>_` (see coco_instance.py for why).  configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py
# puts them under its task names; the single-task configs (experiments/generalist_vs_specialists/configs/single_task/) use one each.
syn_data_root = 'data/synthetic/'
syn_classes_file = syn_data_root + 'meta/classes.txt'
syn_classes = ('red circle', 'green circle', 'blue circle', 'yellow circle', 'red square',
               'green square', 'blue square', 'yellow square', 'red triangle', 'green triangle',
               'blue triangle', 'yellow triangle', 'red star', 'green star', 'blue star',
               'yellow star', 'red hexagon', 'green hexagon', 'blue hexagon', 'yellow hexagon')

# ------------------------------------------------------------------------------ task formulations
syn_cls_task = dict(type='ClassificationTask', class_names=syn_classes_file)
# The paper's softmax likelihood with a learnable "no object" logit.  [ours] weight 50: inside
# the proposal network the class signal competes with the proposal losses for AdamW's shared
# second moments, and q_sem must learn colour (experiments/embedded_detection/README.md: from a pretrained
# proposal network, box AP 4.4 -> 14.7 at iteration 700 together with its full learning rate;
# sigmoid focal at weight 10 collapsed there)
syn_det_task = dict(type='DetectionTask', class_names=syn_classes, no_object='softmax',
                    score_mode='class*objectness', max_per_img=30, with_mask=True,
                    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=50.0))
syn_cap_task = dict(type='CaptioningTask',
                    vocabulary=syn_data_root + 'annotations/coco_karpathy_train.json',
                    beam_size=2, max_length=25, label_smoothing=0.1)
syn_ret_task = dict(type='RetrievalTask', gather_features=True, label_smoothing=0.1)

# -------------------------------------------------------------------------------------- pipelines
syn_img_scale = (64, 64)  # [ours] cls / cap / ret at 64 px for the CPU budget; det at 128 px
syn_meta_keys = ('image_id', 'img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
syn_cls_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=syn_img_scale),
    dict(type='mmpretrain.PackInputs', meta_keys=syn_meta_keys),
]
syn_cap_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=syn_img_scale),
    dict(type='mmpretrain.CleanCaption', keys='gt_caption'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['gt_caption'], meta_keys=syn_meta_keys),
]
syn_cap_test_pipeline = syn_cls_pipeline  # references come from the caption annotation file
syn_ret_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=syn_img_scale),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text'], meta_keys=syn_meta_keys),
]
syn_ret_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=syn_img_scale),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
         meta_keys=syn_meta_keys),
]
syn_det_train_pipeline = [  # detection keeps the native 128 px (small objects)
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs'),
]
syn_det_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor')),
]

# ----------------------------------------------------------------------------------- data loaders
syn_train_loader = dict(num_workers=1, persistent_workers=True, drop_last=True,
                        sampler=dict(type='ResumableInfiniteSampler', shuffle=True))
syn_test_loader = dict(num_workers=1, persistent_workers=True, drop_last=False,
                       sampler=dict(type='DefaultSampler', shuffle=False))
syn_cls_dataset = dict(type='mmpretrain.ImageNet', data_root=syn_data_root,
                       classes=syn_classes_file, pipeline=syn_cls_pipeline)
syn_cls_train_dataloader = dict(batch_size=16, **syn_train_loader,
                                dataset=dict(**syn_cls_dataset, split='train'))
syn_cls_val_dataloader = dict(batch_size=50, **syn_test_loader,
                              dataset=dict(**syn_cls_dataset, split='val'))
syn_det_dataset = dict(type='CocoDataset', data_root=syn_data_root,
                       metainfo=dict(classes=syn_classes))
syn_det_train_dataloader = dict(batch_size=8, **syn_train_loader, dataset=dict(
    **syn_det_dataset, ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
    filter_cfg=dict(filter_empty_gt=False), pipeline=syn_det_train_pipeline))
syn_det_val_dataloader = dict(batch_size=16, **syn_test_loader, dataset=dict(
    **syn_det_dataset, ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
    test_mode=True, pipeline=syn_det_test_pipeline))
syn_cap_train_dataloader = dict(batch_size=16, **syn_train_loader, dataset=dict(
    type='mmpretrain.COCOCaption', data_root=syn_data_root,
    ann_file='annotations/coco_karpathy_train.json', pipeline=syn_cap_train_pipeline))
syn_cap_val_dataloader = dict(batch_size=50, **syn_test_loader, dataset=dict(
    type='mmpretrain.COCOCaption', data_root=syn_data_root,
    ann_file='annotations/coco_karpathy_val.json', pipeline=syn_cap_test_pipeline))
syn_ret_train_dataloader = dict(batch_size=16, **syn_train_loader, dataset=dict(
    type='mmpretrain.COCORetrieval', data_root=syn_data_root,
    ann_file='annotations/coco_karpathy_train_gt.json', pipeline=syn_ret_train_pipeline))
syn_ret_val_dataloader = dict(batch_size=50, **syn_test_loader, dataset=dict(
    type='mmpretrain.COCORetrieval', data_root=syn_data_root,
    ann_file='annotations/coco_karpathy_val_gt.json', pipeline=syn_ret_test_pipeline,
    test_mode=True))

# ------------------------------------------------------------------------------------- evaluators
syn_cls_val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
# mmdet CocoMetric's bbox / segm AP, plus the same predictions' class-agnostic and oracle-class AP
# ({bbox,segm}_mAP_agnostic, _oracle_cls: what localisation and what the classes cost)
syn_det_val_evaluator = dict(type='DetectionDecompositionMetric',
                             ann_file=syn_data_root + 'annotations/instances_val.json',
                             metric=['bbox', 'segm'])
syn_cap_val_evaluator = dict(type='CaptionMetric',
                             ann_file=syn_data_root + 'annotations/coco_karpathy_val_gt.json',
                             use_meteor=True)
syn_ret_val_evaluator = dict(type='BidirectionalRetrievalRecall', topk=(1, 5, 10))
