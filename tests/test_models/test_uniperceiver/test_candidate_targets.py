"""Candidate target sets in training (``models/candidate_targets.py``): class names packed by
length give the per-name encodings; the exact mode is the former loss; sampled / cached with a
draw that covers the set equal the exact loss and gradients; sharding over two gloo ranks gives
the single-process loss and the DDP-averaged gradients."""
import math
import os
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from conftest import tiny_text_encoder_cfg
from uniperceiver_v2.models.attributes import TokenKind
from uniperceiver_v2.models.candidate_targets import CandidateBatch, CandidateTargets

NAMES = ['cat', 'dog', 'great white shark, white shark, man-eater, Carcharodon carcharias',
         'hammerhead, hammerhead shark', 'cat', 'electric ray, crampfish, numbfish, torpedo',
         'tench, Tinca tinca', 'a', 'goldfish, Carassius auratus', 'crane']
VOCAB = list(range(999, 1200))
TEXTS = ['a red circle to the left of a small blue square',
         'two green triangles and a yellow star', 'the large yellow hexagon is above the red star']


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def no_dropout_text_encoder() -> dict:
    """The tiny text encoder without dropout, so that two passes agree in training mode."""
    cfg = tiny_text_encoder_cfg()
    cfg['config_overrides'].update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return cfg


def cls_model(build_model, candidates=None):
    return build_model(dict(cls=dict(type='ClassificationTask', class_names=NAMES,
                                     candidates=candidates)),
                       text_encoder=no_dropout_text_encoder()).train()


def cls_samples(labels):
    return [DataSample(metainfo=dict(img_shape=(64, 64))).set_gt_label(int(i)) for i in labels]


def test_packed_class_names_equal_each_name_alone(build_model):
    model = cls_model(build_model)
    task = model.tasks['cls']
    # one call per distinct length (no call cost), split at 40 padded tokens, a duplicate name
    packed = task.encode_class_names(model, NAMES, max_tokens=40, call_cost=0)
    alone = torch.cat([task.encode_texts(model, [n], TokenKind.CLASS_NAME_TARGET)
                       for n in NAMES])
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-5)
    # the names fit one chunk: one batch in their own order, as before (bitwise)
    torch.testing.assert_close(task.encode_class_names(model, NAMES[:4]),
                               task.encode_texts(model, NAMES[:4], TokenKind.CLASS_NAME_TARGET),
                               rtol=0, atol=0)


def test_packing_computes_fewer_padded_tokens(build_model):
    model = cls_model(build_model)
    task = model.tasks['cls']
    seen = []
    orig = model.text_encoder.forward

    def counting(ids, att, causal=False):
        seen.append(ids.numel())
        return orig(ids, att, causal)

    model.text_encoder.forward = counting
    task.encode_class_names(model, NAMES, call_cost=0)
    lengths = [len(i) for i in model.text_encoder.tokenizer(
        sorted(set(NAMES)), truncation=True, max_length=model.text_encoder.max_length)['input_ids']]
    assert sum(seen) == sum(lengths)  # no padding at all, each distinct name once
    seen.clear()
    task.encode_class_names(model, NAMES)  # one call costs 128 tokens: a single batch here
    assert seen == [len(lengths) * max(lengths)]


def test_pack_by_length():
    from uniperceiver_v2.models.tasks.base_task import pack_by_length
    lengths = [3, 9, 3, 4, 30, 9, 3]
    assert pack_by_length(lengths, call_cost=0) == [[0, 2, 6], [3], [1, 5], [4]]
    assert pack_by_length(lengths, call_cost=1000) == [list(range(7))]
    # 4 + 1 texts: short ones together, the long one alone
    assert pack_by_length([3, 3, 3, 4, 40], call_cost=8) == [[0, 1, 2, 3], [4]]
    # a group above max_tokens is split into equal calls
    assert pack_by_length([5] * 10, max_tokens=20, call_cost=0) == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert pack_by_length([]) == []


def test_exact_mode_is_the_full_softmax(build_model, images):
    model = cls_model(build_model)
    task = model.tasks['cls']
    labels = torch.tensor([2, 7])
    losses = task.loss(model, images, cls_samples(labels))
    x = task.decode_image(model, task.encode_image(model, images, None)[0])[:, 0]
    y = task.encode_texts(model, NAMES, TokenKind.CLASS_NAME_TARGET)
    ref = F.cross_entropy(model.likelihood_head(x, y, 'classification'), labels)
    torch.testing.assert_close(losses['loss_cls'], ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('mode', ['sampled', 'cached'])
def test_approximations_covering_the_set_equal_exact(build_model, images, mode):
    labels = torch.tensor([2, 7])
    out = {}
    for m in ('exact', mode):
        model = cls_model(build_model, dict(mode=m, num_samples=len(NAMES)))
        torch.manual_seed(1)
        loss = model.tasks['cls'].loss(model, images, cls_samples(labels))['loss_cls']
        loss.backward()
        out[m] = (loss.detach(), grads(model))
    torch.testing.assert_close(out[mode][0], out['exact'][0], rtol=1e-5, atol=1e-6)
    assert out[mode][1].keys() == out['exact'][1].keys()
    for name, g in out['exact'][1].items():
        torch.testing.assert_close(out[mode][1][name], g, rtol=1e-4, atol=1e-6, msg=name)


def test_sampled_batch_rows_and_correction():
    torch.manual_seed(0)
    table = torch.randn(50, 4, requires_grad=True)
    ct = CandidateTargets(mode='sampled', num_samples=6)
    targets = torch.tensor([[3, 9, -100], [9, 41, -100]])
    cb = ct.batch(lambda idx: table[idx] * 2, 50, targets)
    assert cb.index[:3].tolist() == [3, 9, 41] and cb.index.numel() == 9
    assert len(set(cb.index.tolist())) == 9
    torch.testing.assert_close(cb.embeddings, table[cb.index] * 2)
    # positives uncorrected, each drawn negative stands for (50 - 3) / 6 candidates
    torch.testing.assert_close(cb.logit_offset[:3], torch.zeros(3))
    torch.testing.assert_close(cb.logit_offset[3:], torch.full((6,), math.log(47 / 6)))
    rows = cb.rows(targets)
    assert rows.tolist() == [[0, 1, -100], [1, 2, -100]]
    logits = cb.adjust(torch.zeros(2, 9))
    assert logits.shape == (2, 9)
    with pytest.raises(RuntimeError, match='not among'):
        cb.rows(torch.tensor([int(c) for c in range(50) if c not in cb.index.tolist()][:1]))


def test_cached_refreshes_every_interval_and_grads_only_drawn_rows():
    torch.manual_seed(0)
    table = torch.randn(30, 4, requires_grad=True)
    calls = []

    def encode(idx):
        calls.append(idx.numel())
        return table[idx] * 1.0

    ct = CandidateTargets(mode='cached', num_samples=2, refresh_interval=3)
    for _ in range(4):
        cb = ct.batch(encode, 30, torch.tensor([5]))
        assert cb.embeddings.shape == (30, 4) and cb.index is None
    # whole set (no grad) on calls 1 and 4, three fresh rows every call
    assert calls == [30, 3, 3, 3, 30, 3]
    cb.embeddings.sum().backward()
    assert int((table.grad.abs().sum(1) > 0).sum()) == 3 and table.grad[5].abs().sum() > 0
    # a stale copy: the rows not drawn keep the values of the last refresh
    with torch.no_grad():
        table.add_(1.0)
    cb = ct.batch(encode, 30, torch.tensor([5]))
    stale = [i for i in range(30) if not torch.equal(cb.embeddings[i], table[i])]
    assert len(stale) == 27


def test_config_errors_and_collectives(build_model):
    with pytest.raises(ValueError, match='ClassificationTask.candidates.mode'):
        cls_model(build_model, dict(mode='topk'))
    model = build_model(dict(
        cls=dict(type='ClassificationTask', class_names=NAMES, candidates=dict(shard=True)),
        cap=dict(type='CaptioningTask', vocabulary=VOCAB,
                 candidates=dict(mode='sampled', shard=True)),
        mlm=dict(type='LanguageModelingTask', vocabulary=VOCAB,
                 candidates=dict(mode='cached', shard=True))))
    assert model.tasks['cls'].collectives_in_loss() == ['candidates.shard']
    assert model.tasks['cap'].collectives_in_loss() == []  # sampled: nothing gathered
    assert model.tasks['mlm'].collectives_in_loss() == ['candidates.shard']


def test_captioning_sampled_trains_on_the_drawn_vocabulary(build_model, images):
    model = build_model(dict(cap=dict(type='CaptioningTask', vocabulary=VOCAB,
                                      candidates=dict(mode='sampled', num_samples=16)))).train()
    calls = []
    orig = model.text_encoder.embed_vocabulary
    model.text_encoder.embed_vocabulary = lambda ids: calls.append(ids.numel()) or orig(ids)
    samples = [DataSample(metainfo=dict(img_shape=(64, 64)), gt_caption=t) for t in TEXTS[:2]]
    losses = model.tasks['cap'].loss(model, images, samples)
    losses['loss_caption'].backward()
    assert torch.isfinite(losses['loss_caption'])
    ids, _ = model.text_encoder.tokenize(TEXTS[:2])
    positives = len(set(ids[:, 1:].flatten().tolist()) - {model.text_encoder.special_ids()['pad']})
    assert sum(calls) <= positives + 16 + 1 and sum(calls) < len(VOCAB)


# ---------------------------------------------------------------------------- two gloo ranks
def _mlm_model(candidates):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    import uniperceiver_v2  # noqa: F401
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='UniPerceiverV2',
        text_encoder=no_dropout_text_encoder(),
        decoder=dict(type='UnifiedDecoder', embed_dims=32, num_layers=2, num_heads=4,
                     feedforward_channels=64, moe=dict(num_experts=4, top_k=2)),
        tasks=dict(mlm=dict(type='LanguageModelingTask', vocabulary=VOCAB, mask_prob=0.3,
                            candidates=candidates)))).train()


def _mlm_loss(model, texts):
    torch.manual_seed(7)
    return model.tasks['mlm'].loss(model, None, [DataSample(text=t) for t in texts])['loss_mlm']


def _shard_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world)
    try:
        torch.set_num_threads(1)
        texts = [TEXTS[rank], TEXTS[2 - rank]]  # each rank its own batch
        out = {}
        for shard in (False, True):
            model = _mlm_model(dict(shard=shard))
            loss = _mlm_loss(model, texts)
            loss.backward()
            g = grads(model)
            for v in g.values():  # what DDP does: average over ranks
                dist.all_reduce(v)
                v /= world
            out[shard] = (loss.detach(), g)
        torch.save(out, osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_sharded_exact_over_two_gloo_ranks(tmp_path):
    mp.spawn(_shard_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2,
             join=True)
    for rank in range(2):
        out = torch.load(tmp_path / f'rank{rank}.pth')
        (l0, g0), (l1, g1) = out[False], out[True]
        torch.testing.assert_close(l1, l0, rtol=1e-5, atol=1e-6)
        assert g0.keys() == g1.keys()
        for name in g0:
            torch.testing.assert_close(g1[name], g0[name], rtol=1e-4, atol=1e-6, msg=name)
    # and the unsharded rank-0 loss is the single-process loss
    model = _mlm_model(None)
    torch.testing.assert_close(_mlm_loss(model, [TEXTS[0], TEXTS[2]]).detach(),
                               torch.load(tmp_path / 'rank0.pth')[False][0],
                               rtol=1e-5, atol=1e-6)
