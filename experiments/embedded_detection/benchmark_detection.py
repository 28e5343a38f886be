"""Benchmark detection inference: the full Uni-Perceiver v2 model vs. its proposal network alone.

Both run in one process on the same batch and their iterations alternate, so a busy shared machine
slows both alike; the script prints the per-image times and the ratio full / proposal network, i.e.
the extra cost of classifying every proposal by the unified likelihood (global + proposal tokens,
one batched decoder call over all proposals, cosine likelihood against the cached class names,
top-k and mask post-processing).

* proposal network alone: ``MaskDINOProposalDetector.predict`` (class-agnostic boxes + masks at the
  original size, ``test_cfg.max_per_img`` per image);
* full model: ``UniPerceiverV2(..., mode='predict')`` of the detection task (boxes, masks, labels,
  scores at the original size, ``max_per_img`` per image).  The class-name embeddings are computed
  on the first call and then served by the likelihood head's cache; the first (cold) call is
  reported separately.

Weights are random (timing only).

Usage::

    python experiments/embedded_detection/benchmark_detection.py                          # synthetic det config
    python experiments/embedded_detection/benchmark_detection.py --batch 8 --iters 5 --threads 1 --clock cpu
    python experiments/embedded_detection/benchmark_detection.py --config CONFIG --task coco_det --device cuda
"""
import argparse
import os.path as osp
import statistics
import sys
import time

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'single_task', 'upv2_det_synthetic.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Detection inference: full model vs. proposal network alone')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='a config with a DetectionTask')
    parser.add_argument('--task', default=None,
                        help='name of the detection task in model.tasks (default: the only one)')
    parser.add_argument('--size', type=int, default=128, help='square input side (pixels)')
    parser.add_argument('--batch', type=int, default=8, help='images per batch')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations of each model')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='wall clock, or this process\'s CPU time (trustworthy on a shared '
                             'machine with --threads 1; CPU only)')
    return parser.parse_args()


def build_model(args: argparse.Namespace):
    """The config's model with random weights (no pretrained packages) and its detection task."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = cfg.model
    backbone = model_cfg.image_encoder.proposal_network.backbone
    if backbone.get('type') == 'TorchvisionMobileNetV2':
        backbone.weights_package = None
    backbone.pop('init_cfg', None)
    det = [n for n, t in model_cfg.tasks.items() if t.type == 'DetectionTask']
    name = args.task or (det[0] if len(det) == 1 else None)
    if name is None or name not in model_cfg.tasks:
        raise SystemExit(f'benchmark_detection.py: pick the detection task with --task '
                         f'(DetectionTask entries of model.tasks: {det})')
    model_cfg.tasks = {name: model_cfg.tasks[name]}
    return MODELS.build(model_cfg), name


def make_batch(args: argparse.Namespace, device):
    """Random images and data samples resized from ``1.25 * size`` (tests the rescaling)."""
    import torch
    from mmdet.structures import DetDataSample
    torch.manual_seed(0)
    inputs = torch.randn(args.batch, 3, args.size, args.size, device=device)
    ori = int(args.size * 1.25)
    samples = [DetDataSample(metainfo=dict(
        img_shape=(args.size, args.size), ori_shape=(ori, ori), pad_shape=(args.size, args.size),
        batch_input_shape=(args.size, args.size), scale_factor=(0.8, 0.8)))
        for _ in range(args.batch)]
    return inputs, samples


def main() -> None:
    args = parse_args()
    import torch
    import uniperceiver_v2  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if args.clock == 'cpu' and device.type != 'cpu':
        raise SystemExit('benchmark_detection.py: --clock cpu needs --device cpu')
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    model, task = build_model(args)
    model = model.to(device).eval()
    proposal_network = model.image_encoder.proposal_network
    inputs, samples = make_batch(args, device)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    def run_full():
        return model(inputs, [s.clone() for s in samples], mode='predict', task=task)

    def run_proposals():
        with torch.no_grad():
            return proposal_network.predict(inputs, [s.clone() for s in samples], rescale=True)

    model.likelihood_head.target_cache.clear()
    sync()
    start = clock()
    out = run_full()
    sync()
    cold = clock() - start
    for _ in range(args.warmup):
        run_proposals()
        run_full()
    times = {'proposal network': [], 'full model': []}
    for _ in range(args.iters):
        for name, fn in (('proposal network', run_proposals), ('full model', run_full)):
            sync()
            start = clock()
            fn()
            sync()
            times[name].append(clock() - start)

    det = model.tasks[task]
    num_proposals = det.proposal_count(model)
    print(f'device={device} threads={torch.get_num_threads()} clock={args.clock} '
          f'batch={args.batch} size={args.size} proposals decoded={num_proposals} '
          f'classes={len(det.class_names)} iters={args.iters} (median)')
    per_image = {k: statistics.median(v) / args.batch for k, v in times.items()}
    for name, value in per_image.items():
        print(f'{name:>18}: {1000 * value:8.2f} ms / image')
    ratio = per_image['full model'] / per_image['proposal network']
    print(f'{"ratio full/proposal":>18}: {ratio:8.3f}  (extra cost of the unified '
          f'classification: {100 * (ratio - 1):+.1f}%)')
    print(f'{"cold first call":>18}: {1000 * cold / args.batch:8.2f} ms / image (class names '
          f'encoded, then cached: {model.likelihood_head.target_cache.hits} cache hits)')
    pred = out[0].pred_instances
    print(f'outputs: {len(pred)} instances/image, masks {tuple(pred.masks.shape[1:])}, '
          f'ori_shape {samples[0].ori_shape}')


if __name__ == '__main__':
    main()
