"""TextEncoder: empty, very long and non-ASCII text; offline loading."""
import pytest


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
