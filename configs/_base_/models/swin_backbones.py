# Swin Transformer backbones of Uni-Perceiver v2 Base / Large [paper] (ImageNet-22k, 384 px), as
# replacements of the ResNet-50 in maskdino_proposal_r50.py.  Use as
#   backbone={{_base_.swin_b_backbone}}, neck=dict(in_channels={{_base_.swin_b_channels}})
# and, on top of a Swin-B config, swin_l_backbone / swin_l_channels for Swin-L.
swin_b_backbone = dict(
    _delete_=True,  # replaces the ResNet-50 dict instead of merging into it
    type='SwinTransformer',
    pretrain_img_size=384,
    embed_dims=128,
    depths=[2, 2, 18, 2],
    num_heads=[4, 8, 16, 32],
    window_size=12,
    mlp_ratio=4,
    qkv_bias=True,
    qk_scale=None,
    drop_rate=0.,
    attn_drop_rate=0.,
    drop_path_rate=0.3,  # [ours] Mask DINO Swin default
    patch_norm=True,
    out_indices=(0, 1, 2, 3),
    with_cp=False,
    convert_weights=True,
    init_cfg=dict(
        type='Pretrained',  # ImageNet-21k Swin-B [paper]
        checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
        'swin_base_patch4_window12_384_22k.pth'))
swin_b_channels = [128, 256, 512, 1024]
# Swin-L: what differs from Swin-B (the paper further pre-trains it on Objects365 detection)
swin_l_backbone = dict(
    embed_dims=192,
    num_heads=[6, 12, 24, 48],
    init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/download/'
                  'v1.0.0/swin_large_patch4_window12_384_22k.pth'))
swin_l_channels = [192, 384, 768, 1536]
