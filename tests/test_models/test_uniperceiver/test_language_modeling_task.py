"""LanguageModelingTask: masked-token loss against a direct computation; mask filling."""
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

CLASSES = ['red circle', 'blue square', 'green triangle']


def two_task_model(build_model):
    return build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES),
                            mlm=dict(type='LanguageModelingTask', vocabulary=list(range(999, 1200)))))


def test_language_modeling_loss_matches_formula(build_model):
    model = two_task_model(build_model).eval()
    task = model.tasks['mlm']
    ids, att = model.text_encoder.tokenize(['a red circle and a blue square'])
    g = torch.Generator().manual_seed(0)
    masked, chosen = task.mask_tokens(model, ids, att, generator=g)
    assert chosen.any() and not chosen[0, 0]  # never the begin token
    vocab_ids, lut = task.vocabulary(model)
    feats = model.text_encoder(masked, att)
    out = model.decoder(feats, [('text_input', feats.shape[1])], att == 0)[:, 1:]
    vemb = model.decoder(model.text_encoder.embed_vocabulary(vocab_ids)[:, None],
                         [('vocabulary_target', 1)])[:, 0]
    logits = F.normalize(out, dim=-1) @ F.normalize(vemb, dim=-1).t() / 0.07
    tgt = lut[ids][chosen]
    expected = F.cross_entropy(logits[chosen][tgt >= 0], tgt[tgt >= 0])
    got = F.cross_entropy(task.logits(model, masked, att).flatten(0, 1),
                          lut[ids].masked_fill(~chosen, -100).flatten(), ignore_index=-100)
    assert torch.allclose(got, expected, atol=1e-4)
    filled = model(None, [DataSample(text='a [MASK] circle')], mode='predict', task='mlm')
    assert isinstance(filled[0].pred_text, str)
