# The paper's ablation setting (configs/upv2_r50_8xgpu-150k_coco-in1k.py: ResNet-50, COCO detection, ImageNet-1k,
# COCO retrieval and captioning) with referring-expression grounding on RefCOCO, RefCOCO+ and
# RefCOCOg (COCO train2014) and ADE20K semantic segmentation added, all through the one likelihood.
# Layouts: configs/_base_/datasets/refcoco_grounding.py, ade20k_semseg.py, docs/dataset_preparation.md.
_base_ = [
    './upv2_r50_8xgpu-150k_coco-in1k.py',
    './_base_/datasets/refcoco_grounding.py',
    './_base_/datasets/ade20k_semseg.py',
]
model = dict(
    likelihood_head=dict(families=('classification', 'retrieval', 'captioning', 'detection',
                                   'mlm', 'grounding')),
    tasks=dict(refcoco_ground={{_base_.ref_ground_task}},
               refcocop_ground={{_base_.ref_ground_task}},
               refcocog_ground={{_base_.ref_ground_task}},
               ade_seg={{_base_.ade_seg_task}}))
train_dataloader = dict(refcoco_ground={{_base_.refcoco_train_dataloader}},
                        refcocop_ground={{_base_.refcocop_train_dataloader}},
                        refcocog_ground={{_base_.refcocog_train_dataloader}},
                        ade_seg={{_base_.ade_train_dataloader}})
# [ours] the three grounding sets share the weight of one task
train_cfg = dict(tasks=dict(refcoco_ground=dict(sampling_weight=1 / 3),
                            refcocop_ground=dict(sampling_weight=1 / 3),
                            refcocog_ground=dict(sampling_weight=1 / 3),
                            ade_seg=dict(sampling_weight=1.0)))
val_dataloader = dict(refcoco_ground={{_base_.refcoco_val_dataloader}},
                      refcocop_ground={{_base_.refcocop_val_dataloader}},
                      refcocog_ground={{_base_.refcocog_val_dataloader}},
                      ade_seg={{_base_.ade_val_dataloader}})
val_evaluator = dict(refcoco_ground={{_base_.ref_val_evaluator}},
                     refcocop_ground={{_base_.ref_val_evaluator}},
                     refcocog_ground={{_base_.ref_val_evaluator}},
                     ade_seg={{_base_.ade_val_evaluator}})
test_dataloader = dict(refcoco_ground={{_base_.refcoco_val_dataloader}},
                       refcocop_ground={{_base_.refcocop_val_dataloader}},
                       refcocog_ground={{_base_.refcocog_val_dataloader}},
                       ade_seg={{_base_.ade_val_dataloader}})
test_evaluator = val_evaluator
