# A tiny class-agnostic Mask DINO proposal network for CPU unit tests (config data only): the
# embedded default's network at width 32, 20 queries, 1 encoder / 2 decoder layers, a quarter-width
# random MobileNetV2.
_base_ = ['../../../../configs/_base_/models/maskdino_proposal_mobilenetv2.py']
embed_dims = 32
num_queries = 20
model = dict(
    num_queries=num_queries,
    backbone=dict(weights_package=None, widen_factor=0.25, frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=[8, 8, 24, 1280], out_channels=embed_dims,
              norm_cfg=dict(type='GN', num_groups=8)),
    encoder=dict(num_layers=1, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_points=2),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64))),
    decoder=dict(num_layers=2, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims),
        cross_attn_cfg=dict(embed_dims=embed_dims, num_points=2),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64))),
    positional_encoding=dict(num_feats=embed_dims // 2),
    pixel_embedding=dict(norm_cfg=dict(type='GN', num_groups=8)),
    bbox_head=dict(embed_dims=embed_dims),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
    test_cfg=dict(max_per_img=num_queries))
