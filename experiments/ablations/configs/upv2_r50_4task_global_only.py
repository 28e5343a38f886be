# Ablation [paper, image tokens]: global tokens only for classification, retrieval and captioning.
# Detection keeps its proposal tokens (it classifies them; DetectionTask requires them).
_base_ = ['../../../configs/upv2_r50_8xgpu-150k_coco-in1k.py']
model = dict(tasks=dict(in1k_cls=dict(use_proposals=False),
                        coco_ret=dict(use_proposals=False),
                        coco_cap=dict(use_proposals=False)))
