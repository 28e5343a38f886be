"""TextEncoder: empty, very long and non-ASCII text; offline loading; frozen token table."""
import pytest
import torch
from mmdet.registry import MODELS

from conftest import tiny_text_encoder_cfg
from uniperceiver_v2.engine.tbgn_optimizer import TBGN


def caption_model(build_model, **kw):
    cfg = dict(type='CaptioningTask', vocabulary=None, beam_size=2, max_length=6)
    cfg.update(kw)
    return build_model(dict(cap=cfg))


def test_text_encoder_edge_cases(build_model):
    model = caption_model(build_model)
    te = model.text_encoder
    ids, att = te.tokenize(['', 'très long ' * 100, '日本語のテキスト'])
    assert ids.shape[1] == te.max_length
    assert int(att[0].sum()) == 2  # empty text: begin + end tokens only
    assert te(ids, att).shape == (3, te.max_length, 32)
    with pytest.raises(ValueError, match='non-empty'):
        te.tokenize([])


def test_frozen_word_embeddings_get_no_gradient_and_no_optimizer_state():
    enc = MODELS.build(dict(tiny_text_encoder_cfg(), freeze_word_embeddings=True))
    table = enc.model.get_input_embeddings().weight
    before = table.detach().clone()
    opt = TBGN(enc.parameters(), lr=1e-2, weight_decay=0.1)
    ids, att = enc.tokenize(['a red circle', 'two blue squares'])
    enc(ids, att).sum().backward()
    assert table.grad is None
    assert enc.proj.weight.grad is not None and enc.model.encoder.layer[0].output.dense.weight.grad \
        is not None  # the rest of the encoder still learns
    opt.step()
    assert torch.equal(table, before) and table not in opt.state
