# Uni-Perceiver v2 with a ResNet-50 backbone (the paper's ablation setting): ResNet-50 (torchvision
# ImageNet weights) + the class-agnostic Mask DINO-like proposal network (Mask DINO defaults, as
# configs/_base_/models/maskdino_proposal_r50.py), RoBERTa-base text encoder, and the 6-layer
# width-768 unified decoder (12 heads, FFN 3072) with attribute MoE (8 experts, top-2) in every
# FFN [paper].  upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py / upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py swap the backbone for Swin-B / Swin-L.  Children add
# `model.tasks`.
_base_ = ['./maskdino_proposal_r50.py']
embed_dims = 768  # decoder width = BERT-base [paper]
# The proposal network is exactly the standalone one (Mask DINO defaults, ResNet-50); its own
# data preprocessor is unused inside the image encoder (the model's preprocessor runs first).
proposal_network = {{_base_.model}}

model = dict(
    _delete_=True,
    type='UniPerceiverV2',
    data_preprocessor=dict(type='UniPerceiverV2DataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32,
                           pad_mask=True),
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
    # one temperature per task family (classification, retrieval, captioning, detection, mlm)
    likelihood_head=dict(type='UnifiedLikelihoodHead'),
    tasks=dict())

# Tasks reach different parameters (each task family's temperature, the detection logit bias, the
# denoising queries ...): DDP must look for unused ones; the wrapper also hands the batch's task to
# the optimizer (TBGN) and runs on CPU (gloo) as on GPUs (nccl).
model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel', find_unused_parameters=True)
