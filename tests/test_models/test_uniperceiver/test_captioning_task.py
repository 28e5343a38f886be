"""CaptioningTask: all-position loss equals prefix-by-prefix computation (no future leakage);
beam search with the KV cache equals full-prefix decoding; pred_caption strings."""
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from uniperceiver_v2.models.attributes import IMAGE_WITH_TEXT


def caption_model(build_model, **kw):
    cfg = dict(type='CaptioningTask', vocabulary=None, beam_size=2, max_length=6)
    cfg.update(kw)
    return build_model(dict(cap=cfg))


def test_caption_loss_matches_formula_and_is_causal(build_model, images, tmp_path):
    caps = ['a red circle', 'a blue square']
    vocab_file = tmp_path / 'captions.txt'  # vocabulary = the ids the training captions use
    vocab_file.write_text('\n'.join(caps + ['a green triangle']))
    model = caption_model(build_model, label_smoothing=0.0, vocabulary=str(vocab_file)).eval()
    task = model.tasks['cap']
    samples = [DataSample(gt_caption=c) for c in caps]
    loss = model(images, samples, mode='loss')['loss_caption']
    # direct: every next token scored against all vocabulary embeddings
    ids, att = model.text_encoder.tokenize(caps)
    vocab_ids, lut = task.vocabulary(model)
    assert len(vocab_ids) < 20 and bool((lut[ids[att.bool()]] >= 0).all())
    vemb = model.decoder(model.text_encoder.embed_vocabulary(vocab_ids)[:, None],
                         [('vocabulary_target', 1)])[:, 0]
    total, count = 0.0, 0
    for b in range(2):
        n = int(att[b].sum())
        for t in range(n - 1):  # predict token t+1 from the prefix up to t, run separately
            prefix = ids[b:b + 1, :t + 1]
            f = model.text_encoder(prefix, torch.ones_like(prefix), causal=True)
            tok = model.image_encoder(images[b:b + 1])
            img, pad, segs = task.image_sequence(tok, IMAGE_WITH_TEXT)
            out = model.decoder(torch.cat([img, f], 1), segs + [('caption_text', t + 1)],
                                causal_start=1 + img.shape[1])[:, -1]
            logits = F.normalize(out, dim=-1) @ F.normalize(vemb, dim=-1).t() / 0.07
            total = total + F.cross_entropy(logits, lut[ids[b, t + 1]].view(1), reduction='sum')
            count += 1
    assert torch.allclose(loss, total / count, atol=1e-4)


def test_beam_search_incremental_equals_full_and_writes_captions(build_model, images):
    model = caption_model(build_model, vocabulary=list(range(1000, 1100))).eval()
    task = model.tasks['cap']
    with torch.no_grad():
        inc = task.generate(model, images, None)
        task.use_kv_cache = False
        full = task.generate(model, images, None)
        task.use_kv_cache = True
        # greedy == beam 1
        task.beam_size = 1
        greedy = task.generate(model, images, None)
    assert torch.equal(inc, full)
    assert greedy.shape[0] == 2
    out = model(images, [DataSample(image_id=3), DataSample(image_id=4)], mode='predict')
    assert all(isinstance(o.pred_caption, str) for o in out)
