# Ablation [paper, first row of the sampling/gather/TBGN table]: mixed sampling - every GPU draws
# its own task each iteration.  Gathering retrieval negatives and TBGN both need every rank on the
# same task, so they are off too (plain AdamW, global clip 0.1 [v1-code]).
_base_ = ['../upv2_r50_4task.py']
train_cfg = dict(sampling='mixed')
model = dict(tasks=dict(coco_ret=dict(gather_features=False)))
optim_wrapper = dict(type='OptimWrapper', constructor='DefaultOptimWrapperConstructor',
                     clip_grad=dict(max_norm=0.1))
