# Classification alone on the synthetic scenes (20 classes = the dominant object's category):
# x = [<SPE>, image tokens], Y = the class names; mmpretrain Accuracy.  Data and task as in the
# embedded default (configs/_base_/datasets/synthetic_multitask.py).
_base_ = [
    '../../../../configs/_base_/models/upv2_tiny_mobilenetv2.py',
    '../../../../configs/_base_/datasets/synthetic_multitask.py',
    '../../../../configs/_base_/schedules/upv2_single_task_cpu.py',
]
model = dict(tasks=dict(synthetic_cls={{_base_.syn_cls_task}}))
train_dataloader = {{_base_.syn_cls_train_dataloader}}
val_dataloader = {{_base_.syn_cls_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.syn_cls_val_evaluator}}
test_evaluator = val_evaluator
