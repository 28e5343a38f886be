# The Uni-Perceiver v2 region proposal network (paper Sec. 4.1) with ResNet-50: Mask DINO-like,
# binary objectness, Mask DINO defaults (300 queries, 6 encoder / 9 decoder layers, 100 denoising
# queries, loss weights cls 4 / L1 5 / GIoU 2 / mask BCE 5 / Dice 5).
embed_dims = 256
num_queries = 300
model = dict(
    type='MaskDINOProposalDetector',
    num_queries=num_queries,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=4,
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=True),  # gt masks padded with the images (MaskDINOHead expects it)
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
    neck=dict(
        type='ChannelMapper',
        in_channels=[256, 512, 1024, 2048],
        kernel_size=1,
        out_channels=embed_dims,
        act_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=5),
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_levels=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=2048, ffn_drop=0.0))),
    decoder=dict(
        num_layers=9,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=embed_dims, num_levels=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=2048, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=embed_dims // 2, normalize=True, offset=0.0,
                             temperature=20),
    pixel_embedding=dict(type='MaskDINOPixelEmbedding', norm_cfg=dict(type='GN', num_groups=32)),
    bbox_head=dict(
        type='MaskDINOHead',
        num_classes=1,
        embed_dims=embed_dims,
        sync_cls_avg_factor=True,
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
        assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='FocalLossCost', weight=4.0),
                dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='IoUCost', iou_mode='giou', weight=2.0),
                dict(type='CrossEntropyLossCost', use_sigmoid=True, weight=5.0),
                dict(type='DiceCost', pred_act=True, eps=1.0, weight=5.0)
            ]),
        # [ours] 56^2 points per mask for the matching costs and the point-sampled BCE / Dice
        # losses, not Mask2Former / Mask DINO's 112^2: the image encoder at 512 px costs 1.23x
        # mmdet DINO instead of 1.69x, and 4x fewer points left proposal AP unchanged on the
        # embedded proposal config (experiments/component_benchmarks/README.md, "Image encoder at 512 and 1024 px")
        num_points=3136,
        oversample_ratio=3.0,
        importance_sample_ratio=0.75),
    test_cfg=dict(max_per_img=100))
