# Ablation [paper, second row]: unmixed sampling, retrieval negatives from the local batch only,
# plain AdamW (global clip 0.1 [v1-code]) instead of TBGN.
_base_ = ['../../../configs/upv2_r50_8xgpu-150k_coco-in1k.py']
model = dict(tasks=dict(coco_ret=dict(gather_features=False)))
optim_wrapper = dict(type='OptimWrapper', constructor='NoDecayOptimWrapperConstructor',
                     optimizer=dict(lr=1e-3),  # v1's AdamW lr (TBGN runs at 0.3x, experiments/tbgn_step_size/README.md)
                     clip_grad=dict(max_norm=0.1))
