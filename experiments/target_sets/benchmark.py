"""Candidate-set share of a training step at the real configs' sizes and batch sizes.

For each task that scores a candidate set (ImageNet classification: 1,000 class names; COCO
captioning and masked language modelling: the vocabulary) this measures on the CPU, with the
config's model built offline (the hub text encoder replaced by an architecture-exact stand-in with
random weights and the offline 30,522-id WordPiece tokenizer):

* the candidate part: FLOPs (``torch.utils.flop_counter``, forward + backward), wall seconds and
  activation bytes kept for the backward pass (saved-tensor hooks, parameters excluded) per
  vocabulary entry (``--entries`` entries run) and per padded class-name token (``--names``
  names run, packed by length), with and without gradient;
* the rest of the step per sample: one training step at ``--batch`` with a small candidate set,
  minus that set's own cost;

and extrapolates both linearly (every candidate and every sample is independent) to the real
sizes (1,000 names with their exact token counts; 50,265 RoBERTa entries) and to the configs'
per-GPU batches, for each candidate mode (``exact``, ``exact`` sharded over ``--world`` ranks,
``sampled``, ``cached``).  Memory figures are fp32 activations (AMP roughly halves them) plus
the fp32 weights, gradients and AdamW moments.  CUDA peak memory is added when a GPU is present.

Usage::

    python experiments/target_sets/benchmark.py --out experiments/target_sets/results.json
"""
import argparse
import json
import math
import resource
import tempfile
import time
from typing import Callable, Dict, List

import torch
from torch.utils.flop_counter import FlopCounterMode

from uniperceiver_v2.testing import build_model, load_config, synthetic_batch

R50 = 'configs/upv2_r50_8xgpu-150k_coco-in1k.py'
BASE = 'configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py'
ROBERTA_VOCAB = 50265


class SavedBytes:
    """Bytes of the activations autograd keeps for the backward pass (parameters excluded),
    counted once per storage."""

    def __init__(self, model: torch.nn.Module):
        self.params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.seen: Dict[int, int] = {}

    def pack(self, t: torch.Tensor):
        s = t.untyped_storage()
        if s.data_ptr() not in self.params:
            self.seen[s.data_ptr()] = s.nbytes()
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())


def measure(model, fn: Callable[[], torch.Tensor], backward: bool = True) -> dict:
    """FLOPs, activation bytes and wall seconds of ``fn()`` (+ backward of its sum)."""
    def run():
        out = fn()
        if backward:
            out.sum().backward() if out.dim() else out.backward()
        model.zero_grad(set_to_none=True)

    saved = SavedBytes(model)
    counter = FlopCounterMode(display=False)
    ctx = torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t)
    with counter, ctx:
        if backward:
            run()
        else:
            with torch.no_grad():
                run()
    t0 = time.perf_counter()
    if backward:
        run()
    else:
        with torch.no_grad():
            run()
    return dict(flops=counter.get_total_flops(), saved_bytes=saved.total,
                seconds=time.perf_counter() - t0)


def step_fn(model, task_name: str, batch_size: int, shape) -> Callable[[], torch.Tensor]:
    task = model.tasks[task_name]
    batch = synthetic_batch(task, batch_size, shape, True)
    batch['task'] = task_name

    def fn():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        return sum(v for k, v in losses.items() if 'loss' in k)
    return fn


def packed_tokens(lengths: List[int], chunk_tokens: int) -> int:
    """Padded tokens of ``encode_class_names``'s packing (names sorted by length, chunks of at
    most ``chunk_tokens`` padded tokens)."""
    total, n, longest = 0, 0, 0
    for L in sorted(lengths):
        if n and (n + 1) * max(longest, L) > chunk_tokens:
            total += n * longest
            n, longest = 0, 0
        n, longest = n + 1, max(longest, L)
    return total + n * longest


def chunked_tokens(lengths: List[int], chunk: int = 256) -> int:
    """Padded tokens of the former encoding (chunks of 256 names in label order)."""
    return sum(len(lengths[i:i + chunk]) * max(lengths[i:i + chunk])
               for i in range(0, len(lengths), chunk))


def per_unit(m: dict, units: float) -> dict:
    return {k: v / units for k, v in m.items()}


def vocabulary_costs(model, task, entries: int) -> dict:
    ids = torch.arange(1000, 1000 + entries)
    grad = measure(model, lambda: task.encode_vocabulary(model, ids))
    nograd = measure(model, lambda: task.encode_vocabulary(model, ids), backward=False)
    return dict(grad=per_unit(grad, entries), nograd=per_unit(nograd, entries))


def class_name_costs(model, task, num_names: int) -> dict:
    names = task.prompts(training=True)
    tok = model.text_encoder.tokenizer
    lengths = [len(i) for i in tok(names, truncation=True,
                                   max_length=model.text_encoder.max_length)['input_ids']]
    subset = names[::max(1, len(names) // num_names)][:num_names]
    sub_len = [len(i) for i in tok(subset, truncation=True,
                                   max_length=model.text_encoder.max_length)['input_ids']]
    units = packed_tokens(sub_len, 8192) + len(subset)  # text tokens + one <SPE> per name
    grad = measure(model, lambda: task.encode_class_names(model, subset))
    nograd = measure(model, lambda: task.encode_class_names(model, subset), backward=False)
    return dict(grad=per_unit(grad, units), nograd=per_unit(nograd, units),
                real_tokens=sum(lengths), names=len(names),
                before_units=chunked_tokens(lengths) + len(names),
                after_units=packed_tokens(lengths, 8192) + len(set(names)),
                padding_waste_before=chunked_tokens(lengths) / sum(lengths),
                padding_waste_after=packed_tokens(lengths, 8192) / sum(lengths))


def rest_costs(cfg_path: str, task_name: str, batch: int, shape, tmp: str) -> dict:
    """Per-sample cost of a step without its candidate set (a small set, minus its cost)."""
    cfg = load_config(cfg_path)
    tcfg = cfg.model.tasks[task_name]
    small_names = None
    if tcfg['type'] == 'ClassificationTask':
        small_names = list(cfg.model.tasks[task_name]['class_names'])[:8]
        tcfg['class_names'] = small_names
    else:
        tcfg['vocabulary'] = list(range(1000, 1008))
    model, _ = build_model(cfg, True, tmp)
    model.train()
    task = model.tasks[task_name]
    fn = step_fn(model, task_name, batch, shape)
    fn().backward()  # warm-up (lazy caches)
    model.zero_grad(set_to_none=True)
    step = measure(model, fn)
    if small_names is not None:
        small = measure(model, lambda: task.encode_class_names(model, small_names))
    else:
        ids, _ = task.vocabulary(model)
        small = measure(model, lambda: task.encode_vocabulary(model, ids))
    rest = {k: (step[k] - small[k]) / batch for k in step}
    params = sum(p.numel() for p in model.parameters())
    return dict(rest_per_sample=rest, params=params, model=model, task=task)


def positives(kind: str, batch: int) -> int:
    """Distinct targets of a batch (upper estimate): one label per image; ~11 distinct
    tokens per COCO caption; ~15 % of 64 tokens per masked-LM text."""
    return dict(classification=batch, captioning=11 * batch, mlm=10 * batch)[kind]


def modes(kind: str) -> Dict[str, dict]:
    """The candidate settings compared (``num_samples``, ``refresh_interval``)."""
    if kind == 'classification':
        return {'exact': dict(mode='exact'), 'exact, sharded': dict(mode='exact', shard=True),
                'sampled S=64': dict(mode='sampled', num_samples=64),
                'cached S=64 k=10': dict(mode='cached', num_samples=64, refresh_interval=10),
                'cached S=64 k=10, sharded': dict(mode='cached', num_samples=64,
                                                  refresh_interval=10, shard=True)}
    return {'exact': dict(mode='exact'), 'exact, sharded': dict(mode='exact', shard=True),
            'sampled S=2048': dict(mode='sampled', num_samples=2048),
            'sampled S=4096': dict(mode='sampled', num_samples=4096),
            'cached S=2048 k=10, sharded': dict(mode='cached', num_samples=2048,
                                                refresh_interval=10, shard=True)}


def candidate_cost(setting: dict, costs: dict, N: float, P: float, world: int,
                   dims: int) -> dict:
    """FLOPs / activation bytes / seconds of the candidate part under ``setting``."""
    g, ng = costs['grad'], costs['nograd']
    mode, shard = setting['mode'], setting.get('shard', False)
    W = world if shard else 1
    if mode == 'exact':
        n = N / W
        return {k: g[k] * n for k in g}
    S = min(setting['num_samples'], N - P)
    fresh = {k: g[k] * (P + S) for k in g}
    if mode == 'sampled':
        return fresh
    k = setting['refresh_interval']
    out = {key: fresh[key] + ng[key] * N / W / k for key in ('flops', 'seconds')}
    out['saved_bytes'] = fresh['saved_bytes'] + N * dims * 4  # + the cached (N, C) copy
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=R50, help='config of classification / captioning')
    parser.add_argument('--lm-config', default=BASE, help='config of masked LM (lm task)')
    parser.add_argument('--entries', type=int, default=256, help='vocabulary entries run')
    parser.add_argument('--names', type=int, default=50, help='class names run')
    parser.add_argument('--batch', type=int, default=1, help='batch of the measured step')
    parser.add_argument('--world', type=int, default=8, help='ranks for the sharded rows')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = [('in1k_cls', 'classification', args.config, (224, 224), 32),
             ('coco_cap', 'captioning', args.config, (384, 384), 32),
             ('lm', 'mlm', args.lm_config, None, 64)]
    results = dict(args=vars(args), tasks={})
    for name, kind, cfg_path, shape, cfg_batch in specs:
        with tempfile.TemporaryDirectory() as tmp:
            r = rest_costs(cfg_path, name, args.batch, shape, tmp)
            model, task = r.pop('model'), r.pop('task')
            if kind == 'classification':
                cfg = load_config(cfg_path)
                task.class_names = list(cfg.model.tasks[name]['class_names'])
                costs = class_name_costs(model, task, args.names)
                N_units, N_before = costs['after_units'], costs['before_units']
                per_cand = N_units / costs['names']  # units per name after packing
            else:
                costs = vocabulary_costs(model, task, args.entries)
                N_units = N_before = ROBERTA_VOCAB
                per_cand = 1.0
            del model
        dims = 768
        P_units = positives(kind, cfg_batch) * per_cand
        rest = {k: v * cfg_batch for k, v in r['rest_per_sample'].items()}
        static = r['params'] * 16  # fp32 weights + gradients + two AdamW moments
        rows = {}
        before = {k: costs['grad'][k] * N_before for k in costs['grad']}
        settings = {'before (padded, exact)': None, **modes(kind)}
        for label, setting in settings.items():
            cand = before if setting is None else candidate_cost(
                setting, costs, N_units, P_units, args.world, dims)
            rows[label] = dict(
                cand_tflops=cand['flops'] / 1e12, rest_tflops=rest['flops'] / 1e12,
                flops_share=cand['flops'] / (cand['flops'] + rest['flops']),
                cand_act_gb=cand['saved_bytes'] / 1e9, rest_act_gb=rest['saved_bytes'] / 1e9,
                act_share=cand['saved_bytes'] / (cand['saved_bytes'] + rest['saved_bytes']),
                memory_share=cand['saved_bytes'] / (cand['saved_bytes'] + rest['saved_bytes']
                                                    + static),
                est_gpu_gb=(cand['saved_bytes'] + rest['saved_bytes'] + static) / 1e9,
                cpu_seconds_share=cand['seconds'] / (cand['seconds'] + rest['seconds']))
        results['tasks'][name] = dict(kind=kind, config=cfg_path, batch=cfg_batch,
                                      params=r['params'], costs=costs,
                                      rest_per_sample=r['rest_per_sample'], rows=rows)
        print(f'== {name} ({kind}, batch {cfg_batch}, {cfg_path})')
        if kind == 'classification':
            print(f"   names {costs['names']}, real tokens {costs['real_tokens']}, padded "
                  f"x{costs['padding_waste_before']:.2f} before, "
                  f"x{costs['padding_waste_after']:.2f} after")
        for label, row in rows.items():
            print(f"   {label:28s} cand {row['cand_tflops']:7.2f} TF / rest "
                  f"{row['rest_tflops']:6.2f} TF = {100 * row['flops_share']:5.1f}% | act "
                  f"{row['cand_act_gb']:6.2f} / {row['rest_act_gb']:6.2f} GB = "
                  f"{100 * row['act_share']:5.1f}% (of all memory "
                  f"{100 * row['memory_share']:5.1f}%, est. {row['est_gpu_gb']:.1f} GB) | CPU "
                  f"time {100 * row['cpu_seconds_share']:5.1f}%")
    results['peak_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if torch.cuda.is_available():
        results['cuda_peak_gb'] = torch.cuda.max_memory_allocated() / 1e9
    print(f"peak RSS of this process: {results['peak_rss_gb']:.1f} GB")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1, default=float)
    return results


if __name__ == '__main__':
    main()
