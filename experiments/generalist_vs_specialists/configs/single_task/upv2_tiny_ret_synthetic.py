# Image-text retrieval alone on the synthetic scenes (5 captions per image): symmetric CE with label
# smoothing over in-batch negatives; mmpretrain RetrievalValLoop + RetrievalRecall (i2t and t2i).
# Data and task as in the embedded default (configs/_base_/datasets/synthetic_multitask.py).
_base_ = [
    '../../../../configs/_base_/models/upv2_tiny_mobilenetv2.py',
    '../../../../configs/_base_/datasets/synthetic_multitask.py',
    '../../../../configs/_base_/schedules/upv2_single_task_cpu.py',
]
model = dict(tasks=dict(synthetic_ret={{_base_.syn_ret_task}}))
train_dataloader = {{_base_.syn_ret_train_dataloader}}
val_dataloader = {{_base_.syn_ret_val_dataloader}}
test_dataloader = val_dataloader
val_cfg = dict(_delete_=True, type='mmpretrain.RetrievalValLoop')
test_cfg = dict(_delete_=True, type='mmpretrain.RetrievalTestLoop')
val_evaluator = dict(type='mmpretrain.RetrievalRecall', topk=(1, 5, 10))
test_evaluator = val_evaluator
