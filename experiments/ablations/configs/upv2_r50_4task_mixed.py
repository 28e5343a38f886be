# Ablation [paper, first row of the sampling/gather/TBGN table]: mixed sampling - every GPU draws
# its own task each iteration.  Gathering retrieval negatives and TBGN both need every rank on the
# same task, so they are off too (plain AdamW, global clip 0.1 [v1-code]); the detection loss
# normalisers are per rank (DINO averages them over ranks inside the loss, a collective the ranks
# of other tasks never reach; see uniperceiver_v2.utils.dist.loss_normaliser).
_base_ = ['../../../configs/upv2_r50_8xgpu-150k_coco-in1k.py']
train_cfg = dict(sampling='mixed')
model = dict(
    image_encoder=dict(proposal_network=dict(bbox_head=dict(sync_cls_avg_factor=False))),
    tasks=dict(coco_det=dict(sync_cls_avg_factor=False), coco_ret=dict(gather_features=False),
               # the class names' sharded encoding is a collective too: every rank encodes all
               in1k_cls=dict(candidates=dict(shard=False))))
optim_wrapper = dict(type='OptimWrapper', constructor='NoDecayOptimWrapperConstructor',
                     optimizer=dict(lr=1e-3),  # v1's AdamW lr (TBGN runs at 0.3x, experiments/tbgn_step_size/README.md)
                     clip_grad=dict(max_norm=0.1))
