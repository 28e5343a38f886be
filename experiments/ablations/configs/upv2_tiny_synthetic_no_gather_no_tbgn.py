# The embedded long schedule with unmixed sampling only (Tab. 4, "unmixed" row): retrieval negatives
# from each rank's own batch, plain AdamW with global clip 0.1 [v1-code] instead of TBGN.
#   bash tools/dist_train.sh experiments/ablations/configs/upv2_tiny_synthetic_no_gather_no_tbgn.py 2
_base_ = ['./upv2_tiny_synthetic_no_tbgn.py']
model = dict(tasks=dict(syn_ret=dict(gather_features=False)))
