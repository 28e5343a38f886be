# Class-agnostic Mask DINO proposal network, Swin-L (ImageNet-22k, 384 px) - the UPv2-Large backbone
# (the paper further pre-trains it on Objects365 detection).
_base_ = './maskdino-proposal_swin-b_8xb2-50e_coco.py'
model = dict(backbone={{_base_.swin_l_backbone}},
             neck=dict(in_channels={{_base_.swin_l_channels}}))
