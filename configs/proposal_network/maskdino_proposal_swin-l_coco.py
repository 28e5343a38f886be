# Class-agnostic Mask DINO proposal network, Swin-L (ImageNet-22k, 384 px) - the UPv2-Large backbone
# (the paper further pre-trains it on Objects365 detection).
_base_ = './maskdino_proposal_swin-b_coco.py'
model = dict(
    backbone=dict(
        embed_dims=192,
        num_heads=[6, 12, 24, 48],
        init_cfg=dict(
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
            'swin_large_patch4_window12_384_22k.pth')),
    neck=dict(in_channels=[192, 384, 768, 1536]))
