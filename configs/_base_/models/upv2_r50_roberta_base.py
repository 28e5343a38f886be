# Uni-Perceiver v2 with a ResNet-50 backbone (the paper's ablation setting): ResNet-50 (torchvision
# ImageNet weights) + the class-agnostic Mask DINO-like proposal network (Mask DINO defaults, as
# configs/_base_/models/maskdino_proposal_r50.py), RoBERTa-base text encoder, and the 6-layer
# width-768 unified decoder (12 heads, FFN 3072) with attribute MoE (8 experts, top-2) in every
# FFN [paper].  upv2_base.py / upv2_large.py swap the backbone for Swin-B / Swin-L.  Children add
# `model.tasks`.
embed_dims = 768  # decoder width = BERT-base [paper]
proposal_dims = 256  # [ours] Mask DINO default
num_queries = 300  # [ours] Mask DINO default
proposal_network = dict(
    type='MaskDINOProposalDetector',
    num_queries=num_queries,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=4,
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    # strides 4 (pixel embedding), 8, 16, 32, 64 (deformable encoder)
    neck=dict(type='ChannelMapper', in_channels=[256, 512, 1024, 2048], kernel_size=1,
              out_channels=proposal_dims, act_cfg=None, norm_cfg=dict(type='GN', num_groups=32),
              num_outs=5),
    encoder=dict(num_layers=6, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=proposal_dims, num_levels=4, dropout=0.0),
        ffn_cfg=dict(embed_dims=proposal_dims, feedforward_channels=2048, ffn_drop=0.0))),
    decoder=dict(num_layers=9, return_intermediate=True, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=proposal_dims, num_heads=8, dropout=0.0),
        cross_attn_cfg=dict(embed_dims=proposal_dims, num_levels=4, dropout=0.0),
        ffn_cfg=dict(embed_dims=proposal_dims, feedforward_channels=2048, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=proposal_dims // 2, normalize=True, offset=0.0,
                             temperature=20),
    pixel_embedding=dict(type='MaskDINOPixelEmbedding', norm_cfg=dict(type='GN', num_groups=32)),
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
                group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=100)),
    train_cfg=dict(
        assigner=dict(type='HungarianAssigner', match_costs=[
            dict(type='FocalLossCost', weight=4.0),
            dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
            dict(type='IoUCost', iou_mode='giou', weight=2.0),
            dict(type='CrossEntropyLossCost', use_sigmoid=True, weight=5.0),
            dict(type='DiceCost', pred_act=True, eps=1.0, weight=5.0)]),
        num_points=12544, oversample_ratio=3.0, importance_sample_ratio=0.75),
    test_cfg=dict(max_per_img=100))

model = dict(
    type='UniPerceiverV2',
    data_preprocessor=dict(type='UniPerceiverV2DataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    image_encoder=dict(
        type='ImageEncoder',
        proposal_network=proposal_network,
        # M' = 1 attention pool over F_L [ours], concatenated with flattened F_L [paper],
        # average-pooled to at most 576 (24 x 24) tokens on large inputs [ours]
        global_tokens=dict(type='GlobalTokens', in_channels=2048, num_pools=1, num_heads=12,
                           max_tokens=576),
        proposal_tokens=dict(type='ProposalTokens', mask_pool_size=28),
        embed_dims=embed_dims,
        num_proposals=200),  # N = 200 proposals for non-detection tasks [ours]
    # RoBERTa-base, jointly tuned [paper]; max_length 64 tokens [ours]
    text_encoder=dict(type='TextEncoder', pretrained='roberta-base', out_channels=embed_dims,
                      max_length=64),
    decoder=dict(type='UnifiedDecoder', embed_dims=embed_dims, num_layers=6, num_heads=12,
                 feedforward_channels=3072,
                 # 8 experts, top-2 [ours: Uni-Perceiver-MoE-B]; no gate noise [ours]
                 moe=dict(num_experts=8, top_k=2, gate_noise_std=0.0)),
    # one learnable temperature per task family, init 0.07, logit scale clamped at 100 [v1-code]
    likelihood_head=dict(type='UnifiedLikelihoodHead',
                         families=('classification', 'retrieval', 'captioning', 'detection',
                                   'mlm')),
    tasks=dict())
