# As upv2_tiny_cap_fullvocab_exact.py, with sampled candidates: the batch's target tokens plus 1,024
# drawn uniformly (3.4 % of the vocabulary, as 2,048 of RoBERTa's 50,265 is 4 %), logQ-corrected.
_base_ = ['./upv2_tiny_cap_fullvocab_exact.py']
model = dict(tasks=dict(synthetic_cap=dict(candidates=dict(mode='sampled', num_samples=1024))))
