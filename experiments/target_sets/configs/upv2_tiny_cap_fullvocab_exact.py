# Captioning alone on the synthetic scenes (the single-task config of the generalist-vs-specialists
# study) with the whole offline vocabulary as candidates (30,522 WordPiece ids instead of the ~60
# the synthetic captions use): every entry encoded with gradient at every step (the paper's loss).
_base_ = ['../../generalist_vs_specialists/configs/single_task/upv2_tiny_cap_synthetic.py']
# 50 iterations (the base schedule's 150 with this vocabulary take ~35 min on 2 shared cores)
model = dict(tasks=dict(synthetic_cap=dict(vocabulary=None, candidates=dict(mode='exact'))))
max_iters = 50
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_iters, save_last=False))
