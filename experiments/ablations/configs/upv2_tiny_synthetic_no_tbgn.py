# The embedded long schedule without TBGN (Tab. 4, "+ gather" row): unmixed sampling, gathered
# retrieval negatives, plain AdamW with global clip 0.1 [v1-code] (as
# ablations/upv2_tiny_synthetic_mixed.py).
#   bash tools/dist_train.sh experiments/ablations/configs/upv2_tiny_synthetic_no_tbgn.py 2
_base_ = ['../../../configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py']
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     # AdamW's own lr (the embedded default runs TBGN at 0.3x it, experiments/tbgn_step_size/README.md)
                     optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05),
                     clip_grad=dict(max_norm=0.1),
                     paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
