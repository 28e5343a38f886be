"""Which parameters decay under the shipped schedules (the real R-50 model, built offline).

``configs/_base_/schedules/upv2_tbgn_adamw.py`` (every COCO config) must leave biases, norms,
scalars (temperatures, the detection logit bias / background logit), ``<SPE>``, embedding tables,
learned queries and the attribute-MoE expert biases without weight decay - also inside the
pretrained parts whose ``custom_keys`` entry sets ``lr_mult=0.1`` (MMEngine lets a matching custom
key override its norm/bias rules) - and decay the weight matrices.  The embedded default keeps
MMEngine's plain rules (its ``paramwise_cfg`` has no ``no_decay``).
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper

from uniperceiver_v2.engine.no_decay_constructor import (NoDecayOptimWrapperConstructor,
                                                         NoDecayRule)
from uniperceiver_v2.testing import build_model, load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
R50 = osp.join(ROOT, 'configs', 'upv2_r50_8xgpu-150k_coco-in1k.py')
EMBEDDED = osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py')


def param_settings(model: nn.Module, optim_wrapper) -> dict:
    """``name -> (lr, weight_decay)`` of every parameter in the optimizer."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    return {name_of[id(p)]: (g['lr'], g['weight_decay'])
            for g in optim_wrapper.optimizer.param_groups for p in g['params']}


@pytest.fixture(scope='module')
def r50(tmp_path_factory):
    cfg = load_config(R50)
    model, _ = build_model(cfg, offline_text_stub=True,
                           stub_root=str(tmp_path_factory.mktemp('stub')), exact_text_stub=False)
    return cfg, model, param_settings(model, build_optim_wrapper(model, cfg.optim_wrapper))


def test_real_schedule_decays_only_weight_matrices(r50):
    cfg, model, settings = r50
    base_lr = cfg.optim_wrapper.optimizer.lr
    base_wd = cfg.optim_wrapper.optimizer.weight_decay
    assert base_wd == 0.2
    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    assert set(settings) == {n for n, p in params.items() if p.requires_grad}
    decayed = {n for n, (_, wd) in settings.items() if wd > 0}
    assert all(settings[n][1] == pytest.approx(base_wd) for n in decayed)

    # nothing of at most one dimension decays: biases, norms (also inside the lr_mult=0.1 parts),
    # temperatures, the detection background logit, <SPE>, attention in_proj biases
    flat = {n for n in settings if params[n].ndim <= 1}
    assert flat and not flat & decayed, sorted(flat & decayed)[:10]
    for name in ('tasks.coco_det.background_logit', 'decoder.spe',
                 'likelihood_head.logit_scales.detection',
                 'image_encoder.global_tokens.attn.in_proj_bias'):
        assert name in settings and name not in decayed, name
    assert any(n.startswith('text_encoder.model.') and 'LayerNorm' in n for n in flat)
    assert any(n.startswith('text_encoder.model.') and n.endswith('.bias') for n in flat)
    # learned queries, embedding tables, stacked expert biases
    no_decay_tables = [n for n in settings if params[n].ndim >= 2 and (
        isinstance(modules[n.rsplit('.', 1)[0]], nn.Embedding)
        or n.endswith(('pool_queries', 'level_embed', 'ffn.b1', 'ffn.b2')))]
    for expected in ('image_encoder.global_tokens.pool_queries',
                     'image_encoder.proposal_network.level_embed',
                     'image_encoder.proposal_network.query_embedding.weight',
                     'text_encoder.model.embeddings.word_embeddings.weight',
                     'text_encoder.model.embeddings.position_embeddings.weight',
                     'decoder.layers.0.ffn.b1', 'decoder.layers.5.ffn.b2'):
        assert expected in no_decay_tables, expected
    assert not set(no_decay_tables) & decayed, sorted(set(no_decay_tables) & decayed)
    # weight matrices decay: linear / conv / attention projections, the expert weights
    for name in ('decoder.layers.0.ffn.w1', 'decoder.layers.0.ffn.w2',
                 'image_encoder.global_tokens.attn.in_proj_weight',
                 'image_encoder.proposal_tokens.box_proj.weight',
                 'image_encoder.proposal_network.backbone.layer4.0.conv1.weight',
                 'text_encoder.model.encoder.layer.0.attention.self.query.weight'):
        assert name in decayed, name
    matrices = {n for n in settings if params[n].ndim >= 2} - set(no_decay_tables)
    assert matrices == decayed
    # custom keys keep their learning rate where no_decay removes the decay
    ln = 'text_encoder.model.embeddings.LayerNorm.weight'
    assert settings[ln] == (pytest.approx(base_lr * 0.1), 0.0)
    bias = 'text_encoder.model.encoder.layer.0.attention.self.query.bias'
    assert settings[bias] == (pytest.approx(base_lr * 0.1), 0.0)
    assert settings['tasks.coco_det.background_logit'][0] == pytest.approx(base_lr)


def test_embedded_default_keeps_mmengine_rules(synthetic_cwd, tmp_path, monkeypatch):
    """No ``no_decay`` in the embedded default: the same groups as MMEngine's own constructor."""
    monkeypatch.chdir(synthetic_cwd)
    cfg = load_config(EMBEDDED)
    assert 'no_decay' not in cfg.optim_wrapper.paramwise_cfg
    model, _ = build_model(cfg, offline_text_stub=True, stub_root=str(tmp_path),
                           exact_text_stub=False)
    ours = param_settings(model, build_optim_wrapper(model, cfg.optim_wrapper))
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    paramwise = wrapper_cfg.pop('paramwise_cfg')
    for key in ('constructor', 'task_weights'):
        wrapper_cfg.pop(key, None)
    wrapper_cfg['type'] = 'OptimWrapper'
    reference = param_settings(model, DefaultOptimWrapperConstructor(wrapper_cfg, paramwise)(model))
    assert ours == reference


def test_no_decay_rule_and_errors():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Embedding(5, 4))
    model.register_parameter('scale', nn.Parameter(torch.tensor(1.0)))
    model.register_parameter('queries', nn.Parameter(torch.zeros(2, 4)))
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.1))
    ctor = NoDecayOptimWrapperConstructor(
        cfg, dict(custom_keys={'0': dict(lr_mult=0.5)},
                  no_decay=dict(max_ndim=1, embeddings=True, keys=['queries'])))
    got = param_settings(model, ctor(model))
    assert got['0.weight'] == (pytest.approx(5e-4), pytest.approx(0.1))
    assert got['0.bias'] == (pytest.approx(5e-4), 0.0)  # custom key's lr, no decay
    assert {n for n, (_, wd) in got.items() if wd == 0} == {
        '0.bias', '1.weight', '1.bias', '2.weight', 'scale', 'queries'}
    # without embeddings / with max_ndim=0 the table and the 1-D tensors decay again
    rule = NoDecayRule(max_ndim=0, embeddings=False)
    assert not rule('2.weight', model[2].weight, model[2])
    assert not rule('0.bias', model[0].bias, model[0]) and rule('scale', model.scale, model)
    with pytest.raises(KeyError, match='paramwise_cfg.no_decay'):
        NoDecayOptimWrapperConstructor(cfg, dict(no_decay=dict(max_dim=1)))
    with pytest.raises(TypeError, match='no_decay.keys'):
        NoDecayRule(keys='queries')
    with pytest.raises(ValueError, match='weight_decay'):
        NoDecayOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=dict(
            type='AdamW', lr=1e-3)), dict(no_decay=dict()))


def test_every_config_with_no_decay_uses_a_constructor_that_applies_it():
    """MMEngine's ``DefaultOptimWrapperConstructor`` ignores ``paramwise_cfg.no_decay`` silently;
    every config that inherits it (the COCO configs, their ablations) builds with ours."""
    import glob

    from mmengine.config import Config
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
    paths = [p for pattern in ('configs/*.py', 'experiments/**/configs/**/*.py')
             for p in glob.glob(osp.join(ROOT, pattern), recursive=True)]
    checked = []
    for path in paths:
        wrapper = Config.fromfile(path).get('optim_wrapper') or {}
        if 'no_decay' not in (wrapper.get('paramwise_cfg') or {}):
            continue
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.get(
            wrapper.get('constructor', 'DefaultOptimWrapperConstructor'))
        assert issubclass(ctor, NoDecayOptimWrapperConstructor), osp.relpath(path, ROOT)
        checked.append(osp.relpath(path, ROOT))
    assert 'configs/upv2_r50_8xgpu-150k_coco-in1k.py' in checked
    assert 'configs/upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py' in checked
    assert 'experiments/ablations/configs/upv2_r50_4task_no_tbgn.py' in checked
