# Uni-Perceiver v2 Large [paper]: upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py with a Swin-L backbone (ImageNet-21k; the paper
# further pre-trains it on Objects365 detection, which we do not: load such weights with
# `load_from` or the backbone's init_cfg).  446M parameters at deployment in the paper.
_base_ = ['upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py']
# Stage 1 (the paper's is Objects365-pretrained; point proposal_checkpoint at such a checkpoint of
# the same network if you have one):
#   python tools/train.py configs/proposal_network/maskdino-proposal_swin-l_8xb2-50e_coco.py
# skip it with --cfg-options model.image_encoder.proposal_checkpoint=None
proposal_config = 'configs/proposal_network/maskdino-proposal_swin-l_8xb2-50e_coco.py'
proposal_checkpoint = 'work_dirs/maskdino-proposal_swin-l_8xb2-50e_coco/epoch_50.pth'
model = dict(
    image_encoder=dict(
        proposal_checkpoint=proposal_checkpoint,
        proposal_config=proposal_config,
        proposal_network=dict(backbone={{_base_.swin_l_backbone}},
                              neck=dict(in_channels={{_base_.swin_l_channels}})),
        global_tokens=dict(in_channels=1536)),
    # activation checkpointing [ours]: the text-encoder and unified-decoder layers are recomputed
    # in the backward pass instead of stored (same outputs and gradients, less memory)
    text_encoder=dict(with_cp=True),
    decoder=dict(with_cp=True))
