# The embedded long schedule with the paper's mixed sampling (Tab. 4, first row): every rank draws
# its own task each iteration, so no gathered retrieval negatives, no TBGN (plain AdamW, global clip
# 0.1 [v1-code]) and per-rank detection loss normalisers (see ablations/upv2_r50_4task_mixed.py).
# Differs from the long schedule only on several ranks:
#   bash tools/dist_train.sh experiments/ablations/configs/upv2_tiny_synthetic_mixed.py 2
_base_ = ['../../../configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py']
train_cfg = dict(sampling='mixed')
model = dict(
    image_encoder=dict(proposal_network=dict(bbox_head=dict(sync_cls_avg_factor=False))),
    tasks=dict(syn_det=dict(sync_cls_avg_factor=False), syn_ret=dict(gather_features=False)))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05),
                     clip_grad=dict(max_norm=0.1),
                     paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
