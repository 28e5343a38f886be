# Uni-Perceiver v2 Base [paper]: Swin-B (ImageNet-21k) backbone, RoBERTa-base text encoder, 6-layer
# width-768 unified decoder with attribute MoE (8 experts, top-2) in every FFN; all tasks trained
# jointly: COCO detection + instance segmentation, ImageNet-1k classification, COCO retrieval,
# COCO captioning, masked language modelling; Flickr30k retrieval is evaluated zero-shot with the
# COCO-trained retrieval weights.  308M parameters at deployment in the paper
# (tools/analysis/count_params.py prints ours).  Built on upv2_r50_8xgpu-150k_coco-in1k.py (same tasks, data bases
# and schedule), adding the tasks the paper's ablation leaves out.
_base_ = [
    'upv2_r50_8xgpu-150k_coco-in1k.py',
    '_base_/datasets/flickr30k_retrieval.py',
    '_base_/datasets/text_corpus.py',
    '_base_/models/swin_backbones.py',
]
# Stage 1 (the proposal network, loaded into the image encoder):
#   python tools/train.py configs/proposal_network/maskdino-proposal_swin-b_8xb2-50e_coco.py
# skip it with --cfg-options model.image_encoder.proposal_checkpoint=None
proposal_config = 'configs/proposal_network/maskdino-proposal_swin-b_8xb2-50e_coco.py'
proposal_checkpoint = 'work_dirs/maskdino-proposal_swin-b_8xb2-50e_coco/epoch_50.pth'
model = dict(
    image_encoder=dict(
        proposal_checkpoint=proposal_checkpoint,
        proposal_config=proposal_config,
        proposal_network=dict(backbone={{_base_.swin_b_backbone}},
                              neck=dict(in_channels={{_base_.swin_b_channels}})),
        global_tokens=dict(in_channels=1024)),
    tasks=dict(
        # detection + instance segmentation: boxes and masks from the proposal network [paper]
        coco_det=dict(with_mask=True),
        # masked language modelling over the full RoBERTa vocabulary [paper]; BERT masking [ours]
        # [ours] sampled candidates: the masked tokens + 256 drawn entries (logQ-corrected); the
        # whole vocabulary would be 89% of the step's FLOPs (paper: candidates=dict(mode='exact'))
        lm=dict(type='LanguageModelingTask', vocabulary=None, mask_prob=0.15,
                candidates=dict(mode='sampled', num_samples=256)),
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
# AMP [v1-code: fp16] with TBGN (gradient norm taken after unscaling).  No dtype here: the wrapper
# autocasts to float16 on CUDA (dynamic loss scaling) and to bfloat16 on a CPU (the only CPU
# autocast dtype); pin one with optim_wrapper.dtype='bfloat16' (or tools/train.py --amp bf16).
optim_wrapper = dict(type='AmpTBGNOptimWrapper', loss_scale='dynamic')
