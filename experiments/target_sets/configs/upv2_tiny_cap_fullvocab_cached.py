# As upv2_tiny_cap_fullvocab_exact.py, with cached candidates: the whole vocabulary in the softmax,
# the batch's target tokens plus 1,024 drawn ones with gradient, the rest from a copy refreshed
# (without gradient) every 10 steps.
_base_ = ['./upv2_tiny_cap_fullvocab_exact.py']
model = dict(tasks=dict(synthetic_cap=dict(
    candidates=dict(mode='cached', num_samples=1024, refresh_interval=10))))
