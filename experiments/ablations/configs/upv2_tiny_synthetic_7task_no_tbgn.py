# The seven-task embedded config without TBGN: AdamW with global gradient clipping 0.1 (the
# predecessor's recipe, as in upv2_tiny_synthetic_no_tbgn.py), everything else unchanged.  Asks
# whether TBGN's (1-beta)/s_k moment weights explain why the five tasks fall behind the five-task
# default once grounding and semantic segmentation join (experiments/tbgn_step_size/README.md).
_base_ = ['../../../configs/upv2_mobilenetv2_1xcpu-1900it_synthetic-7task.py']
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     # AdamW's own lr (the embedded default runs TBGN at 0.3x it, experiments/tbgn_step_size/README.md)
                     optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05),
                     clip_grad=dict(max_norm=0.1),
                     paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
