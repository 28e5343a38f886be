# Referring-expression grounding and semantic segmentation on the embedded synthetic scenes
# (python tools/data/generate_synthetic.py also writes data/synthetic/refcoco/ and
# data/synthetic/semseg/), in the real on-disk formats and read by the stock dataset classes:
#   grounding: RefCOCO layout (instances.json + refs(<splitBy>).p) -> mmpretrain RefCOCO (one sample
#              per expression), mmpretrain pipeline, mmpretrain VisualGroundingMetric (acc =
#              precision@1 at IoU 0.5);
#   semantic:  mmseg layout (images + uint8 label PNGs, 255 = unlabelled) -> mmseg BaseSegDataset,
#              mmseg pipeline, mmseg IoUMetric (mIoU).
# Names prefixed `syn_ground_` / `syn_seg_` (shared helpers `syn_gs_`: a config may inherit
# this file together with synthetic_multitask.py, whose names must not repeat here).
syn_gs_data_root = 'data/synthetic/'
syn_gs_classes = ('red circle', 'green circle', 'blue circle', 'yellow circle', 'red square',
               'green square', 'blue square', 'yellow square', 'red triangle', 'green triangle',
               'blue triangle', 'yellow triangle', 'red star', 'green star', 'blue star',
               'yellow star', 'red hexagon', 'green hexagon', 'blue hexagon', 'yellow hexagon')

# ------------------------------------------------------------------------------ task formulations
# the likelihood head's temperature families with grounding's own
syn_gs_families = ('classification', 'retrieval', 'captioning', 'detection', 'mlm', 'grounding')
# candidates = all proposal queries (as detection); own temperature family 'grounding'
syn_ground_task = dict(type='GroundingTask', num_proposals=30, family='grounding')
# pixel classes from detection's proposals and class likelihood (family 'detection')
syn_seg_task = dict(type='SemanticSegmentationTask', class_names=syn_gs_classes, num_proposals=30)

# -------------------------------------------------------------------------------------- pipelines
syn_ground_meta_keys = ('image_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
syn_ground_pipeline = [  # native 128 px (small objects); gt_bboxes stay in original pixels
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(128, 128)),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_bboxes'],
         meta_keys=syn_ground_meta_keys),
]
syn_seg_train_pipeline = [
    dict(type='mmseg.LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
]
syn_seg_test_pipeline = syn_seg_train_pipeline  # 128 px as generated: maps at ori_shape

# ----------------------------------------------------------------------------------- data loaders
syn_gs_train_loader = dict(num_workers=1, persistent_workers=True, drop_last=True,
                        sampler=dict(type='ResumableInfiniteSampler', shuffle=True))
syn_gs_test_loader = dict(num_workers=1, persistent_workers=True, drop_last=False,
                       sampler=dict(type='DefaultSampler', shuffle=False))
syn_ground_dataset = dict(type='mmpretrain.RefCOCO', data_root=syn_gs_data_root, data_prefix='',
                          ann_file='refcoco/instances.json',
                          split_file='refcoco/refs(synthetic).p')
syn_ground_train_dataloader = dict(batch_size=8, **syn_gs_train_loader, dataset=dict(
    **syn_ground_dataset, split='train', pipeline=syn_ground_pipeline))
syn_ground_val_dataloader = dict(batch_size=32, **syn_gs_test_loader, dataset=dict(
    **syn_ground_dataset, split='val', pipeline=syn_ground_pipeline))
syn_seg_dataset = dict(type='mmseg.BaseSegDataset', data_root=syn_gs_data_root,
                       metainfo=dict(classes=syn_gs_classes), img_suffix='.png',
                       seg_map_suffix='.png', reduce_zero_label=False)
syn_seg_train_dataloader = dict(batch_size=8, **syn_gs_train_loader, dataset=dict(
    **syn_seg_dataset, data_prefix=dict(img_path='train', seg_map_path='semseg/train'),
    pipeline=syn_seg_train_pipeline))
syn_seg_val_dataloader = dict(batch_size=16, **syn_gs_test_loader, dataset=dict(
    **syn_seg_dataset, data_prefix=dict(img_path='val', seg_map_path='semseg/val'),
    test_mode=True, pipeline=syn_seg_test_pipeline))

# ------------------------------------------------------------------------------------- evaluators
syn_ground_val_evaluator = dict(type='mmpretrain.VisualGroundingMetric')
syn_seg_val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
