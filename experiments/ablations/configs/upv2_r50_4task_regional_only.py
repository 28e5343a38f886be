# Ablation [paper, image tokens]: proposal (regional) tokens only, no global tokens, in every task.
_base_ = ['../../../configs/upv2_r50_8xgpu-150k_coco-in1k.py']
model = dict(tasks=dict(coco_det=dict(use_global=False),
                        in1k_cls=dict(use_global=False),
                        coco_ret=dict(use_global=False),
                        coco_cap=dict(use_global=False)))
