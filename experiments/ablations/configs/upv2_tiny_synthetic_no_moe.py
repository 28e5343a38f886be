# The embedded long schedule without MoE (Tab. 3, "all tasks" row): dense FFNs in every unified-
# decoder layer, everything else as configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py.
_base_ = ['../../../configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py']
model = dict(decoder=dict(moe=None))
