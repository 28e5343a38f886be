"""Vocabulary targets: masked LM scores only the masked positions (same loss and gradients as the
full ``(B, L, V)`` logits), and one training iteration embeds the vocabulary once, shared by every
position it scores (captioning and masked LM)."""
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample


VOCAB = list(range(999, 1400))
TEXTS = ['a red circle to the left of a small blue square',
         'two green triangles and a yellow star', 'the large yellow hexagon is above the red star']


def mlm_model(build_model):
    return build_model(dict(mlm=dict(type='LanguageModelingTask', vocabulary=VOCAB,
                                     mask_prob=0.3)))


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_mlm_scores_only_masked_positions_same_loss_and_gradients(build_model):
    model = mlm_model(build_model).train()
    task = model.tasks['mlm']
    samples = [DataSample(text=t) for t in TEXTS]
    torch.manual_seed(3)
    losses = task.loss(model, None, samples)
    losses['loss_mlm'].backward()
    got = grads(model)
    model.zero_grad()
    # reference: the former computation, (B, L, V) logits at every position + ignore_index
    torch.manual_seed(3)
    ids, att = model.text_encoder.tokenize(TEXTS)
    masked, chosen = task.mask_tokens(model, ids, att)
    _, lut = task.vocabulary(model)
    targets = lut[ids].masked_fill(~chosen, -100)
    logits = task.logits(model, masked, att)
    assert logits.shape[:2] == ids.shape and 0 < int(chosen.sum()) < chosen.numel()
    ref = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    ref.backward()
    torch.testing.assert_close(losses['loss_mlm'], ref, rtol=1e-6, atol=1e-6)
    ref_acc = (logits.argmax(-1) == targets)[targets != -100].float().mean()
    torch.testing.assert_close(losses['acc_mlm'], ref_acc)
    want = grads(model)
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)


def count_vocabulary_passes(model):
    calls = []
    orig = model.text_encoder.embed_vocabulary

    def counting(token_ids):
        calls.append(int(token_ids.numel()))
        return orig(token_ids)

    model.text_encoder.embed_vocabulary = counting
    return calls


def test_vocabulary_embedded_once_per_iteration(build_model):
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    model = build_model(dict(
        cap=dict(type='CaptioningTask', vocabulary=VOCAB, max_length=8),
        mlm=dict(type='LanguageModelingTask', vocabulary=VOCAB)))
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    calls = count_vocabulary_passes(model)
    batch = dict(task='cap', inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
                 data_samples=[DataSample(metainfo=dict(img_shape=(64, 64)), gt_caption=t)
                               for t in TEXTS[:2]])
    num_targets = model.tasks['cap'].vocabulary(model)[0].numel()  # VOCAB + special tokens
    model.train_step(batch, optim)
    assert sum(calls) == num_targets  # every vocabulary entry embedded exactly once
    calls.clear()
    text = pseudo_collate([dict(data_samples=DataSample(text=t)) for t in TEXTS])
    text['task'] = 'mlm'
    model.train_step(text, optim)
    assert sum(calls) == num_targets
