# The embedded long schedule without MoE (Tab. 3, "all tasks" row): dense FFNs in every unified-
# decoder layer, everything else as configs/upv2_tiny_synthetic_long.py.
_base_ = ['../upv2_tiny_synthetic_long.py']
model = dict(decoder=dict(moe=None))
