"""Candidate-set share of a training step at the real configs' sizes and batch sizes.

For each task that scores a candidate set (ImageNet classification: 1,000 class names; COCO
captioning and masked language modelling: the vocabulary) this measures on the CPU, with the
R-50 config's model built offline (the hub text encoder replaced by an architecture-exact
RoBERTa-base stand-in with random weights and the offline 30,522-id WordPiece tokenizer; masked LM
is the Base config's ``lm`` task, whose text encoder and decoder are the R-50 config's):

* the candidate part: FLOPs (``torch.utils.flop_counter``, forward + backward), activation bytes
  kept for the backward pass (saved-tensor hooks, parameters excluded) and wall seconds of one
  vocabulary call at two sizes (``--entries``) and of one class-name call on names of one length
  at two sizes (``--names``), fitted as ``per call + per unit * units``, with and without
  gradient;
* the rest of the step: one training step at batch 1 and 2 with a small candidate set (its own
  cost subtracted), fitted as ``fixed + per sample * batch``;

and extrapolates both (every candidate and every sample is independent) to the real sizes (1,000
names with their exact token counts, packed as ``encode_class_names`` packs them; RoBERTa's
50,265 entries) and to the configs' per-GPU batches (32 images, 64 texts), for each candidate
setting (``exact``, ``exact`` sharded over ``--world`` ranks, ``sampled``, ``cached``).  Memory
is fp32 activations plus fp32 weights, gradients and AdamW moments (16 bytes per parameter);
"AMP" halves the activations.  Seconds are CPU wall time on shared cores (noisy).

Usage::

    python experiments/target_sets/benchmark.py --out experiments/target_sets/results.json
"""
import argparse
import json
import os.path as osp
import resource
import tempfile
import time
from typing import Callable, Dict, List

import torch
from torch.utils.flop_counter import FlopCounterMode

from uniperceiver_v2.models.tasks.base_task import pack_by_length
from uniperceiver_v2.testing import build_model, load_config, synthetic_batch
from uniperceiver_v2.testing.synthetic_inputs import SAMPLE_TEXTS

R50 = 'configs/upv2_r50_8xgpu-150k_coco-in1k.py'
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
    if batch['inputs'] is None:  # masked LM: texts at the 64-token limit
        for ds in batch['data_samples']:
            ds.text = LONG_TEXT

    def fn():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        return sum(v for k, v in losses.items() if 'loss' in k)
    return fn


def fit(small: dict, n_small: float, large: dict, n_large: float) -> dict:
    """Per-unit and per-call parts of two measurements of one call at two sizes (seconds, too
    noisy on shared cores for a difference, are taken proportional to the larger one)."""
    unit = {k: (large[k] - small[k]) / (n_large - n_small) for k in small}
    call = {k: max(0.0, small[k] - unit[k] * n_small) for k in small}
    unit['seconds'], call['seconds'] = large['seconds'] / n_large, 0.0
    return dict(unit=unit, call=call, measured=[small, large], sizes=[n_small, n_large])


def cost_of(calls: List[float], f: dict) -> dict:
    """Cost of calls of the given units each under the fit ``f``."""
    return {k: sum(f['call'][k] + f['unit'][k] * u for u in calls) for k in f['unit']}


def vocabulary_costs(model, task, entries: int) -> dict:
    """Fits of one vocabulary call (units = entries), with and without gradient."""
    out = {}
    for grad in (True, False):
        m = [measure(model, lambda n=n: task.encode_vocabulary(model, torch.arange(1000, 1000 + n)),
                     backward=grad) for n in (entries // 4, entries)]
        out['grad' if grad else 'nograd'] = fit(m[0], entries // 4, m[1], entries)
    return out


def class_name_costs(model, task, num_names: int) -> dict:
    """Fits of one class-name call (units = padded text tokens + one <SPE> per name) on names
    of one length, and the calls of the whole set before (256 names per call in label order)
    and after packing."""
    names = task.prompts(training=True)
    tok = model.text_encoder.tokenizer
    lengths = [len(i) for i in tok(names, truncation=True,
                                   max_length=model.text_encoder.max_length)['input_ids']]
    common = max(set(lengths), key=lengths.count)
    same = [n for n, L in zip(names, lengths) if L == common]
    sizes = (max(2, min(num_names, len(same)) // 4), min(num_names, len(same)))
    out = dict(names=len(names), real_tokens=sum(lengths))
    for grad in (True, False):
        m = [measure(model, lambda k=k: task.encode_texts(model, same[:k], 'class_name_target'),
                     backward=grad) for k in sizes]
        out['grad' if grad else 'nograd'] = fit(m[0], sizes[0] * (common + 1),
                                                m[1], sizes[1] * (common + 1))
    before = [len(lengths[i:i + 256]) * (max(lengths[i:i + 256]) + 1)
              for i in range(0, len(lengths), 256)]
    unique = list(dict.fromkeys(names))
    ulen = [lengths[names.index(n)] for n in unique]
    after = [len(g) * (max(ulen[i] for i in g) + 1) for g in pack_by_length(ulen)]
    out.update(before_calls=before, after_calls=after, unique_lengths=ulen,
               padding_waste_before=sum(before) / (sum(lengths) + len(names)),
               padding_waste_after=sum(after) / (sum(lengths) + len(names)))
    return out


LONG_TEXT = ' '.join(SAMPLE_TEXTS * 2)  # fills the 64-token limit of masked-LM texts


def rest_costs(cfg_path: str, task_name: str, shape, tmp: str) -> dict:
    """The step without its candidate set: a small set, its own cost subtracted; measured at
    batch 1 and 2 and fitted as ``a + b * batch``."""
    cfg = load_config(cfg_path)
    if task_name == 'lm' and 'lm' not in cfg.model.tasks:  # the Base / Large configs' task
        cfg.model.tasks['lm'] = dict(type='LanguageModelingTask', vocabulary=None,
                                     mask_prob=0.15)
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
    steps = []
    for b in (1, 2):
        fn = step_fn(model, task_name, b, shape)
        if b == 1:
            fn().backward()  # warm-up (lazy caches)
            model.zero_grad(set_to_none=True)
        steps.append(measure(model, fn))
    if small_names is not None:
        small = measure(model, lambda: task.encode_class_names(model, small_names))
    else:
        ids, _ = task.vocabulary(model)
        small = measure(model, lambda: task.encode_vocabulary(model, ids))
    per_sample = {k: steps[1][k] - steps[0][k] for k in small}
    fixed = {k: max(0.0, steps[0][k] - per_sample[k] - small[k]) for k in small}
    per_sample['seconds'] = max(0.0, steps[1]['seconds'] - small['seconds']) / 2
    fixed['seconds'] = 0.0
    params = sum(p.numel() for p in model.parameters())
    return dict(per_sample=per_sample, fixed=fixed, params=params, model=model, task=task,
                measured=dict(steps=steps, small_set=small))


def positives(kind: str, batch: int) -> int:
    """Distinct targets of a batch (upper estimate): one label per image; ~11 distinct
    tokens per COCO caption; ~10 masked tokens per 64-token masked-LM text."""
    return dict(classification=batch, captioning=11 * batch, mlm=10 * batch)[kind]


def settings(kind: str) -> Dict[str, dict]:
    """The candidate settings compared."""
    common = {'exact': dict(mode='exact'), 'exact, sharded': dict(mode='exact', shard=True)}
    if kind == 'classification':
        return {**common, 'sampled S=64': dict(mode='sampled', num_samples=64),
                'sampled S=128': dict(mode='sampled', num_samples=128),
                'cached S=64 k=10': dict(mode='cached', num_samples=64, refresh_interval=10),
                'cached S=64 k=10, sharded': dict(mode='cached', num_samples=64,
                                                  refresh_interval=10, shard=True)}
    if kind == 'mlm':
        return {**common, 'sampled S=256': dict(mode='sampled', num_samples=256),
                'sampled S=512': dict(mode='sampled', num_samples=512),
                'cached S=256 k=20, sharded': dict(mode='cached', num_samples=256,
                                                   refresh_interval=20, shard=True)}
    return {**common, 'sampled S=1024': dict(mode='sampled', num_samples=1024),
            'sampled S=2048': dict(mode='sampled', num_samples=2048),
            'sampled S=4096': dict(mode='sampled', num_samples=4096),
            'cached S=2048 k=10, sharded': dict(mode='cached', num_samples=2048,
                                                refresh_interval=10, shard=True)}


def candidate_cost(setting: dict, costs: dict, kind: str, batch: int, world: int,
                   dims: int = 768) -> dict:
    """FLOPs / activation bytes / seconds of the candidate part under ``setting``."""
    g, ng = costs['grad'], costs['nograd']
    W = world if setting.get('shard', False) else 1
    if kind == 'classification':
        calls = costs['after_calls']
        N = costs['names']
        per_name = sum(calls) / N
    else:
        N = ROBERTA_VOCAB
        calls = [min(16384, N - i) for i in range(0, N, 16384)]
        per_name = 1.0

    def scaled(f: dict, share: float) -> dict:  # the busiest rank's 1/W of the set
        if share == 1.0:
            return cost_of(calls, f)
        if kind != 'classification':
            return cost_of([c * share for c in calls], f)
        lengths = costs['unique_lengths']  # each rank packs its own slice
        per = -(-len(lengths) // W)
        ranks = []
        for r in range(W):
            part = lengths[r * per:(r + 1) * per]
            ranks.append(cost_of([len(g) * (max(part[i] for i in g) + 1)
                                  for g in pack_by_length(part)], f))
        return max(ranks, key=lambda c: c['flops'])

    if setting['mode'] == 'exact':
        return scaled(g, 1.0 / W)
    P = positives(kind, batch)
    S = min(setting['num_samples'], N - P)
    fresh = cost_of([(P + S) * per_name], g)
    if setting['mode'] == 'sampled':
        return fresh
    k = setting['refresh_interval']
    refresh = scaled(ng, 1.0 / W)
    out = {key: fresh[key] + refresh[key] / k for key in ('flops', 'seconds')}
    out['saved_bytes'] = fresh['saved_bytes'] + N * dims * 4  # + the cached (N, C) copy
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=R50, help='config of classification / captioning')
    parser.add_argument('--entries', type=int, default=256, help='vocabulary entries run')
    parser.add_argument('--names', type=int, default=64, help='class names run (one length)')
    parser.add_argument('--tasks', nargs='+', help='in1k_cls, coco_cap, lm (default: all)')
    parser.add_argument('--world', type=int, default=8, help='ranks for the sharded rows')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = [('in1k_cls', 'classification', args.config, (224, 224), 32),
             ('coco_cap', 'captioning', args.config, (384, 384), 32),
             ('lm', 'mlm', args.config, None, 64)]
    results = dict(args=vars(args), tasks={})
    if args.out and osp.isfile(args.out):  # --tasks: update the other tasks' results
        with open(args.out) as f:
            results['tasks'] = json.load(f)['tasks']
    for name, kind, cfg_path, shape, cfg_batch in specs:
        if args.tasks and name not in args.tasks:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r = rest_costs(cfg_path, name, shape, tmp)
            model, task = r.pop('model'), r.pop('task')
            if kind == 'classification':
                task.class_names = list(load_config(cfg_path).model.tasks[name]['class_names'])
                costs = class_name_costs(model, task, args.names)
            else:
                costs = vocabulary_costs(model, task, args.entries)
            del model
        rest = {k: r['fixed'][k] + r['per_sample'][k] * cfg_batch for k in r['fixed']}
        static = r['params'] * 16  # fp32 weights + gradients + two AdamW moments
        rows = {}
        all_settings = dict(settings(kind))
        if kind == 'classification':
            before = cost_of(costs['before_calls'], costs['grad'])
            all_settings = {'before (padded, exact)': None, **all_settings}
        for label, setting in all_settings.items():
            cand = before if setting is None else candidate_cost(setting, costs, kind,
                                                                 cfg_batch, args.world)
            act = cand['saved_bytes'] + rest['saved_bytes']
            rows[label] = dict(
                cand_tflops=cand['flops'] / 1e12, rest_tflops=rest['flops'] / 1e12,
                flops_share=cand['flops'] / (cand['flops'] + rest['flops']),
                cand_act_gb=cand['saved_bytes'] / 1e9, rest_act_gb=rest['saved_bytes'] / 1e9,
                act_share=cand['saved_bytes'] / act,
                est_gpu_gb_fp32=(act + static) / 1e9, est_gpu_gb_amp=(act / 2 + static) / 1e9,
                cpu_seconds_share=cand['seconds'] / (cand['seconds'] + rest['seconds']))
        results['tasks'][name] = dict(kind=kind, config=cfg_path, batch=cfg_batch,
                                      params=r['params'], costs=costs, rest=rest,
                                      rest_per_sample=r['per_sample'],
                                      rest_measured=r['measured'], rows=rows)
        print(f'== {name} ({kind}, batch {cfg_batch}, {cfg_path}, {r["params"] / 1e6:.0f}M '
              'params)')
        if kind == 'classification':
            print(f"   names {costs['names']}, real tokens {costs['real_tokens']}, padded "
                  f"x{costs['padding_waste_before']:.2f} before ({len(costs['before_calls'])} "
                  f"calls), x{costs['padding_waste_after']:.2f} after "
                  f"({len(costs['after_calls'])} calls)")
        for label, row in rows.items():
            print(f"   {label:28s} cand {row['cand_tflops']:7.2f} TF / rest "
                  f"{row['rest_tflops']:6.2f} TF = {100 * row['flops_share']:5.1f}% | act "
                  f"{row['cand_act_gb']:6.2f} / {row['rest_act_gb']:6.2f} GB = "
                  f"{100 * row['act_share']:5.1f}% | est. GPU {row['est_gpu_gb_fp32']:.1f} GB "
                  f"fp32, {row['est_gpu_gb_amp']:.1f} GB AMP | CPU time "
                  f"{100 * row['cpu_seconds_share']:5.1f}%")
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
