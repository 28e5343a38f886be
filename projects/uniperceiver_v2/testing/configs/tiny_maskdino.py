# The tiny proposal network (tiny_maskdino_proposal.py) and an image encoder around it, for CPU
# unit tests (config data only).
_base_ = ['./tiny_maskdino_proposal.py']
proposal_network = {{_base_.model}}
image_encoder = dict(
    type='ImageEncoder',
    proposal_network=proposal_network,
    global_tokens=dict(type='GlobalTokens', in_channels=1280, num_pools=1, num_heads=4),
    proposal_tokens=dict(type='ProposalTokens', mask_pool_size=28, detach_geometry=True),
    embed_dims=48,
    num_proposals=8)
