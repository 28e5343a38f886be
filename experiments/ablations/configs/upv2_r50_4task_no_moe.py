# Ablation [paper, "without MoE"]: dense FFNs in every unified-decoder layer.
_base_ = ['../../../configs/upv2_r50_8xgpu-150k_coco-in1k.py']
model = dict(decoder=dict(moe=None))
