# The embedded long schedule with detection's TBGN task weight ω_det = 2 (the others 1): TBGN's own
# knob for a task's share of the update, tried to buy back the detection that AdamW keeps at full
# budget (experiments/tbgn_step_size/README.md).
#   python tools/train.py experiments/ablations/configs/upv2_tiny_synthetic_tbgn_det_weight2.py
_base_ = ['../../../configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py']
optim_wrapper = dict(
    task_weights=dict(_delete_=True, syn_cls=1.0, syn_det=2.0, syn_cap=1.0, syn_ret=1.0))
