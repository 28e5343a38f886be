# Stage 1 of the embedded default (configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py): the class-agnostic proposal
# network of maskdino-proposal_mobilenetv2_1xcpu-800it_synthetic.py trained alone for 440 iterations
# instead of 800 (45.9 box AP / 31.0 mask AP class-agnostic on the 200 validation images, seed 0,
# 4.9 min on an idle 2-core machine); the default starts its proposal network from the last
# checkpoint.
#   python tools/train.py configs/proposal_network/maskdino-proposal_mobilenetv2_1xcpu-440it_synthetic.py
_base_ = ['./maskdino-proposal_mobilenetv2_1xcpu-800it_synthetic.py']
max_iters = 440
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
