# Captioning alone on the synthetic scenes: every next token scored against the vocabulary's
# embeddings (vocabulary = the token ids of the training captions + special tokens), beam search;
# BLEU / CIDEr with the offline CaptionMetric.  Data as in the embedded default
# (configs/_base_/datasets/synthetic_multitask.py).
_base_ = [
    '../../../../configs/_base_/models/upv2_tiny_mobilenetv2.py',
    '../../../../configs/_base_/datasets/synthetic_multitask.py',
    '../../../../configs/_base_/schedules/upv2_single_task_cpu.py',
]
# [ours] up to 30 generated tokens here (the embedded default: 25)
model = dict(tasks=dict(synthetic_cap=dict(
    type='CaptioningTask', vocabulary={{_base_.syn_cap_task.vocabulary}}, beam_size=2,
    max_length=30, label_smoothing=0.1)))
train_dataloader = {{_base_.syn_cap_train_dataloader}}
val_dataloader = {{_base_.syn_cap_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = dict(type='CaptionMetric', ann_file={{_base_.syn_cap_val_evaluator.ann_file}},
                     use_meteor=False)
test_evaluator = val_evaluator
