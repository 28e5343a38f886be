# Class-agnostic Mask DINO proposal network, Swin-B (ImageNet-22k, 384 px) - the UPv2-Base backbone.
_base_ = ['./maskdino-proposal_r50_8xb2-50e_coco.py', '../_base_/models/swin_backbones.py']
model = dict(backbone={{_base_.swin_b_backbone}},
             neck=dict(in_channels={{_base_.swin_b_channels}}))
