# Ablation [paper, "without MoE"]: dense FFNs in every unified-decoder layer.
_base_ = ['../upv2_r50_4task.py']
model = dict(decoder=dict(moe=None))
