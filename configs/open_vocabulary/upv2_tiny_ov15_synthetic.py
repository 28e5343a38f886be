# Open vocabulary, stage 2: the embedded default's recipe (configs/upv2_tiny_synthetic.py) trained
# on 15 of the 20 synthetic categories - classification, detection + instance segmentation and
# referring-expression grounding - and tested on all 20 and on the 5 held-out names alone.
#
#   python tools/data/open_vocabulary_split.py          # data/synthetic/open_vocab/
#   python tools/train.py configs/open_vocabulary/maskdino_proposal_mobilenetv2_seen15_synthetic.py
#   python tools/train.py configs/open_vocabulary/upv2_tiny_ov15_synthetic.py
#   python tools/analysis/open_vocabulary_eval.py configs/open_vocabulary/upv2_tiny_ov15_synthetic.py \
#       work_dirs/upv2_tiny_ov15_synthetic/iter_1500.pth
#
# Held-out categories never appear with a label: their objects are unlabelled background for the
# proposal network and detection, their images are not in the classification list, no grounding
# expression in training names them, and captioning / retrieval (whose captions name every
# category) are not trained.  Their names reach the model only at test time, through the text
# encoder.  Validation here: detection and classification scored against all 20 names, grounding
# on expressions about held-out objects; open_vocabulary_eval.py reports every split.
_base_ = [
    '../upv2_tiny_synthetic.py',
    '../_base_/datasets/synthetic_grounding_semseg.py',
]
ov_root = 'data/synthetic/open_vocab/'
seen_classes = ('red circle', 'blue circle', 'yellow circle', 'red square', 'green square',
                'yellow square', 'red triangle', 'green triangle', 'blue triangle', 'green star',
                'blue star', 'yellow star', 'red hexagon', 'blue hexagon', 'yellow hexagon')
all_classes = {{_base_.syn_classes}}
ov_train_loader = dict(num_workers=1, persistent_workers=True, drop_last=True,
                       sampler=dict(type='ResumableInfiniteSampler', shuffle=True))

model = dict(
    image_encoder=dict(proposal_network=dict(init_cfg=dict(
        checkpoint='work_dirs/maskdino_proposal_mobilenetv2_seen15_synthetic/iter_800.pth'))),
    likelihood_head=dict(families=('classification', 'retrieval', 'captioning', 'detection',
                                   'mlm', 'grounding')),
    # training names = the 15 seen ones (labels index them); tested with all 20
    tasks=dict(syn_cls=dict(class_names=ov_root + 'classes_seen.txt',
                            test_class_names='data/synthetic/meta/classes.txt'),
               syn_det=dict(class_names=seen_classes, test_class_names=all_classes),
               syn_ground={{_base_.syn_ground_task}}))

train_dataloader = dict(
    _delete_=True,
    syn_cls=dict(
        batch_size=16, **ov_train_loader,
        dataset=dict(type='mmpretrain.CustomDataset', data_root='data/synthetic',
                     data_prefix='train', ann_file='open_vocab/train_seen.txt',
                     classes=ov_root + 'classes_seen.txt',
                     pipeline={{_base_.syn_cls_pipeline}})),
    syn_det=dict(
        batch_size=8, **ov_train_loader,
        dataset=dict(type='CocoDataset', data_root='data/synthetic/',
                     metainfo=dict(classes=seen_classes),
                     ann_file='open_vocab/instances_train_seen.json',
                     data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=False),
                     pipeline={{_base_.syn_det_train_pipeline}})),
    syn_ground=dict(
        batch_size=8, **ov_train_loader,
        dataset=dict(type='mmpretrain.RefCOCO', data_root='data/synthetic', data_prefix='',
                     ann_file='refcoco/instances.json', split_file='open_vocab/refs(synthetic_ov).p',
                     split='train', pipeline={{_base_.syn_ground_pipeline}})))
val_dataloader = dict(
    _delete_=True,
    syn_cls={{_base_.syn_cls_val_dataloader}},
    syn_det={{_base_.syn_det_val_dataloader}},
    syn_ground=dict(
        batch_size=32, num_workers=1, persistent_workers=True, drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='mmpretrain.RefCOCO', data_root='data/synthetic', data_prefix='',
                     ann_file='refcoco/instances.json', split_file='open_vocab/refs(synthetic_ov).p',
                     split='val_unseen', pipeline={{_base_.syn_ground_pipeline}})))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    syn_cls={{_base_.syn_cls_val_evaluator}},
    syn_det=dict(type='CocoMetric', ann_file='data/synthetic/annotations/instances_val.json',
                 metric=['bbox'], classwise=True),
    syn_ground={{_base_.syn_ground_val_evaluator}})
test_evaluator = val_evaluator

# the default's weights for cls : det, grounding as in the 7-task config; 1,500 iterations (the
# CPU budget: about the detection iterations of the five-task default)
max_iters = 1500
train_cfg = dict(max_iters=max_iters, val_interval=max_iters, tasks=dict(
    _delete_=True, syn_cls=dict(sampling_weight=1.0), syn_det=dict(sampling_weight=3.0),
    syn_ground=dict(sampling_weight=1.5)))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
