# Ablation [ours, single switch]: upv2_r50_8xgpu-150k_coco-in1k.py with retrieval negatives from the local batch
# only (no all-gather across GPUs); unmixed sampling and TBGN kept.
_base_ = ['../../../configs/upv2_r50_8xgpu-150k_coco-in1k.py']
model = dict(tasks=dict(coco_ret=dict(gather_features=False)))
