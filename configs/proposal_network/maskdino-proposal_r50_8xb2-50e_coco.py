# Class-agnostic Mask DINO proposal network, ResNet-50 (the paper's ablation backbone), COCO 2017.
# Box and mask AP with every category merged into `object`.
_base_ = [
    '../_base_/models/maskdino_proposal_r50.py',
    '../_base_/datasets/coco_instance_class_agnostic.py',
    '../_base_/schedules/maskdino_proposal_50e.py',
    '../_base_/mmdet_runtime.py',
]
