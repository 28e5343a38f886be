# A tiny class-agnostic Mask DINO proposal network for CPU unit tests (config data only).
embed_dims = 32
num_queries = 20
proposal_network = dict(
    type='MaskDINOProposalDetector',
    num_queries=num_queries,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=4,
    backbone=dict(type='TorchvisionMobileNetV2', weights_package=None, widen_factor=0.25,
                  out_indices=(1, 2, 4, 7)),
    neck=dict(type='ChannelMapper', in_channels=[8, 8, 24, 1280], kernel_size=1,
              out_channels=embed_dims, act_cfg=None, norm_cfg=dict(type='GN', num_groups=8),
              num_outs=5),
    encoder=dict(num_layers=1, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_levels=4, num_heads=4, num_points=2,
                           dropout=0.0),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64, ffn_drop=0.0))),
    decoder=dict(num_layers=2, return_intermediate=True, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4, dropout=0.0),
        cross_attn_cfg=dict(embed_dims=embed_dims, num_levels=4, num_heads=4, num_points=2,
                            dropout=0.0),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=embed_dims // 2, normalize=True, offset=0.0,
                             temperature=20),
    pixel_embedding=dict(type='MaskDINOPixelEmbedding', norm_cfg=dict(type='GN', num_groups=8)),
    bbox_head=dict(
        type='MaskDINOHead', num_classes=1, embed_dims=embed_dims, sync_cls_avg_factor=True,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=4.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0),
        loss_mask=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                       loss_weight=5.0),
        loss_dice=dict(type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                       naive_dice=True, eps=1.0, loss_weight=5.0)),
    dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0,
                group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=10)),
    train_cfg=dict(
        assigner=dict(type='HungarianAssigner', match_costs=[
            dict(type='FocalLossCost', weight=4.0),
            dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
            dict(type='IoUCost', iou_mode='giou', weight=2.0),
            dict(type='CrossEntropyLossCost', use_sigmoid=True, weight=5.0),
            dict(type='DiceCost', pred_act=True, eps=1.0, weight=5.0)]),
        num_points=256, oversample_ratio=3.0, importance_sample_ratio=0.75),
    test_cfg=dict(max_per_img=num_queries))

image_encoder = dict(
    type='ImageEncoder',
    proposal_network=proposal_network,
    global_tokens=dict(type='GlobalTokens', in_channels=1280, num_pools=1, num_heads=4),
    proposal_tokens=dict(type='ProposalTokens', mask_pool_size=28, detach_geometry=True),
    embed_dims=48,
    num_proposals=8)
