# Uni-Perceiver v2 Base [paper]: Swin-B (ImageNet-21k) backbone, RoBERTa-base text encoder, 6-layer
# width-768 unified decoder with attribute MoE (8 experts, top-2) in every FFN; all tasks trained
# jointly: COCO detection + instance segmentation, ImageNet-1k classification, COCO retrieval,
# COCO captioning, masked language modelling; Flickr30k retrieval is evaluated zero-shot with the
# COCO-trained retrieval weights.  308M parameters at deployment in the paper
# (tools/analysis/count_params.py prints ours).  Built on upv2_r50_4task.py (same tasks, data bases
# and schedule), adding the tasks the paper's ablation leaves out.
_base_ = [
    'upv2_r50_4task.py',
    '_base_/datasets/flickr30k_retrieval.py',
    '_base_/datasets/text_corpus.py',
]
model = dict(
    image_encoder=dict(
        proposal_network=dict(
            backbone=dict(
                _delete_=True,
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
                    checkpoint='https://github.com/SwinTransformer/storage/releases/download/'
                    'v1.0.0/swin_base_patch4_window12_384_22k.pth')),
            neck=dict(in_channels=[128, 256, 512, 1024])),
        global_tokens=dict(in_channels=1024)),
    tasks=dict(
        # detection + instance segmentation: boxes and masks from the proposal network [paper]
        coco_det=dict(with_mask=True),
        # masked language modelling over the full RoBERTa vocabulary [paper]; BERT masking [ours]
        lm=dict(type='LanguageModelingTask', vocabulary=None, mask_prob=0.15),
        # zero-shot Flickr30k [paper]: a second name for the same (parameter-free) retrieval
        # formulation, so it shares the COCO-trained weights and temperature
        flickr_ret=dict(type='RetrievalTask', gather_features=True, label_smoothing=0.1)))

train_dataloader = dict(lm={{_base_.lm_train_dataloader}})
# [ours] equal sampling weights; TBGN's omega_k = 1 makes every task contribute equally
train_cfg = dict(tasks=dict(lm=dict(sampling_weight=1.0)))
val_dataloader = dict(flickr_ret={{_base_.flickr_ret_val_dataloader}})
val_evaluator = dict(coco_det=dict(metric=['bbox', 'segm']),
                     flickr_ret={{_base_.flickr_ret_val_evaluator}})
test_dataloader = dict(flickr_ret={{_base_.flickr_ret_test_dataloader}})
test_evaluator = dict(coco_det=dict(metric=['bbox', 'segm']),
                      flickr_ret={{_base_.flickr_ret_test_evaluator}})
# fp16 AMP [v1-code] with TBGN (gradient norm taken after unscaling)
optim_wrapper = dict(type='AmpTBGNOptimWrapper', dtype='float16', loss_scale='dynamic')
