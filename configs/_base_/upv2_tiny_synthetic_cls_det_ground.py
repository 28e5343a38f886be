# The embedded long schedule (configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py, model and recipe inherited)
# restricted to classification, detection + instance segmentation and referring-expression grounding
# on the synthetic scenes: the base of the open-vocabulary configs (experiments/open_vocabulary/configs/), whose
# captions would otherwise name every category.
_base_ = [
    '../upv2_mobilenetv2_1xcpu-1400it_synthetic.py',
    './datasets/synthetic_grounding_semseg.py',
]
model = dict(
    likelihood_head=dict(families={{_base_.syn_gs_families}}),
    tasks=dict(_delete_=True, syn_cls={{_base_.syn_cls_task}}, syn_det={{_base_.syn_det_task}},
               syn_ground={{_base_.syn_ground_task}}))
train_dataloader = dict(
    _delete_=True, syn_cls={{_base_.syn_cls_train_dataloader}},
    syn_det={{_base_.syn_det_train_dataloader}}, syn_ground={{_base_.syn_ground_train_dataloader}})
val_dataloader = dict(
    _delete_=True, syn_cls={{_base_.syn_cls_val_dataloader}},
    syn_det={{_base_.syn_det_val_dataloader}}, syn_ground={{_base_.syn_ground_val_dataloader}})
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, syn_cls={{_base_.syn_cls_val_evaluator}},
    syn_det={{_base_.syn_det_val_evaluator}}, syn_ground={{_base_.syn_ground_val_evaluator}})
test_evaluator = val_evaluator
# the default's weights for cls : det, grounding as in the 7-task config
train_cfg = dict(tasks=dict(
    _delete_=True, syn_cls=dict(sampling_weight=1.0), syn_det=dict(sampling_weight=3.0),
    syn_ground=dict(sampling_weight=1.5)))
