"""Share of a captioning / masked-LM training iteration spent on the vocabulary targets.

The vocabulary targets ``g([<SPE>, e_w])_SPE`` run every vocabulary entry through the text
embedding and the unified decoder, with gradients, at every captioning and masked-LM iteration
(paper.md §3).  Their cost is linear in the vocabulary size V and independent of the batch; the
rest of the iteration is independent of V and linear in the batch.  This tool counts, with
``torch.utils.flop_counter.FlopCounterMode`` (forward + backward), on the config's model built
offline (architecture-exact stand-in text encoder):

* the FLOPs of one full training forward + backward of the task with the vocabulary capped at
  ``--count-vocab`` entries (so that it runs on a CPU), and
* the FLOPs of the vocabulary-target embeddings alone (forward + backward) for the same entries,

and reports the vocabulary share at the real vocabulary size (50,265 for RoBERTa) for batch 1 and
for ``--report-batch`` (the config's per-GPU batch), extrapolating both parts linearly.

Usage::

    python experiments/target_sets/vocab_target_share.py configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py --task coco_cap
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from uniperceiver_v2.testing.offline_build import build_model, load_config  # noqa: E402
from uniperceiver_v2.testing.synthetic_inputs import synthetic_batch  # noqa: E402


def count(fn) -> tuple:
    """(FLOPs, CPU seconds) of ``fn()``."""
    counter = FlopCounterMode(display=False)
    t0 = time.process_time()
    with counter:
        fn()
    return counter.get_total_flops(), time.process_time() - t0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--task', default='coco_cap')
    parser.add_argument('--count-vocab', type=int, default=256,
                        help='vocabulary entries actually run (FLOPs scale linearly)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--shape', type=int, nargs=2, default=(384, 384))
    parser.add_argument('--report-batch', type=int, default=32)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    cfg.model.tasks[args.task]['vocabulary'] = list(range(args.count_vocab))
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = build_model(cfg, True, tmp)
    model.train()
    task = model.tasks[args.task]
    full_vocab = model.text_encoder.model.config.vocab_size
    vocab_ids, _ = task.vocabulary(model)
    V0 = vocab_ids.numel()
    batch = synthetic_batch(task, args.batch_size, tuple(args.shape), True)
    batch['task'] = args.task

    def step():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        model.zero_grad(set_to_none=True)

    def vocab_only():
        task.vocabulary_embeddings(model, vocab_ids).sum().backward()
        model.zero_grad(set_to_none=True)

    step()  # warm-up (lazy caches)
    f_step, t_step = count(step)
    f_voc, t_voc = count(vocab_only)
    per_entry = f_voc / V0
    rest_per_sample = (f_step - f_voc) / args.batch_size
    out = dict(config=args.config, task=args.task, image_size=list(args.shape),
               counted_vocab=V0, counted_batch=args.batch_size,
               step_tflops=f_step / 1e12, vocab_tflops=f_voc / 1e12,
               vocab_share_counted=f_voc / f_step, cpu_s_step=t_step, cpu_s_vocab=t_voc,
               vocab_gflops_per_entry=per_entry / 1e9,
               rest_gflops_per_sample=rest_per_sample / 1e9, full_vocab=full_vocab)
    for b in sorted({1, args.report_batch}):
        voc = per_entry * full_vocab
        out[f'full_vocab_tflops_batch{b}'] = (voc + rest_per_sample * b) / 1e12
        out[f'full_vocab_share_batch{b}'] = voc / (voc + rest_per_sample * b)
    for k, v in out.items():
        print(f'{k}: {v:.4g}' if isinstance(v, float) else f'{k}: {v}')
    return out


if __name__ == '__main__':
    main()
