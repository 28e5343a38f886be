"""Benchmark the Uni-Perceiver v2 image encoder against mmdet's own DINO, measured in the same run.

Both models get the same backbone, input size, batch, query count, denoising queries and
encoder / decoder depths (taken from the proposal network config); each is timed for forward +
backward of its training loss (the encoder: ``ImageEncoder.loss`` plus its global and proposal
tokens; DINO: ``DINO.loss``).  The two models are built in one process and their iterations
alternate, so a busy shared machine slows both alike.  Memory: the bytes of the distinct tensors
autograd saves for backward (activation memory, deterministic, CPU and GPU) and, on GPU, the CUDA
peak allocated during a step above the resident parameters.  The script prints the ratios
encoder / DINO (target: time <= 1.3x).

Usage::

    python experiments/component_benchmarks/benchmark_image_encoder.py                       # R50, 320 px, CPU/GPU
    python experiments/component_benchmarks/benchmark_image_encoder.py --size 512 --batch 2 --device cuda
    python experiments/component_benchmarks/benchmark_image_encoder.py --config configs/proposal_network/\
maskdino-proposal_mobilenetv2_1xcpu-440it_synthetic.py --size 128 --batch 8
"""
import argparse
import copy
import os.path as osp
import resource
import sys
import time

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'proposal_network', 'maskdino-proposal_r50_8xb2-50e_coco.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='ImageEncoder vs mmdet DINO: time and memory')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='proposal network config (its `model` is the proposal network)')
    parser.add_argument('--size', type=int, default=320, help='square input side (pixels)')
    parser.add_argument('--batch', type=int, default=1, help='images per batch')
    parser.add_argument('--gts', type=int, default=5, help='ground-truth instances per image')
    parser.add_argument('--iters', type=int, default=3, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--embed-dims', type=int, default=768, help='ImageEncoder token width')
    parser.add_argument('--num-proposals', type=int, default=200, help='N proposal tokens')
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='wall time, or this process\'s CPU time (robust on a busy shared '
                        'CPU; use with --threads 1)')
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override settings of the proposal network config (both models), '
                        'e.g. model.train_cfg.num_points=3136 (encoder levers)')
    return parser.parse_args()


def proposal_network_cfg(args: argparse.Namespace) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg = cfg.model
    cfg.pop('data_preprocessor', None)
    backbone = cfg.backbone
    if backbone.get('type') == 'TorchvisionMobileNetV2':
        backbone.weights_package = None   # timing only: random weights, no package needed
    backbone.pop('init_cfg', None)
    return cfg.to_dict()


def dino_cfg(pn: dict) -> dict:
    """mmdet DINO with the proposal network's backbone, widths, depths and queries."""
    cfg = copy.deepcopy(pn)
    neck = cfg['neck']
    # DINO: strides 8..64, no stride-4 level
    cfg['backbone']['out_indices'] = tuple(cfg['backbone']['out_indices'])[1:]
    neck['in_channels'] = neck['in_channels'][1:]
    neck['num_outs'] = cfg.get('num_feature_levels', 4)
    head = cfg['bbox_head']
    cfg['bbox_head'] = dict(type='DINOHead', num_classes=80, embed_dims=head['embed_dims'],
                            sync_cls_avg_factor=True, loss_cls=head['loss_cls'],
                            loss_bbox=head['loss_bbox'], loss_iou=head['loss_iou'])
    cfg['train_cfg'] = dict(assigner=dict(type='HungarianAssigner', match_costs=[
        dict(type='FocalLossCost', weight=2.0),
        dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
        dict(type='IoUCost', iou_mode='giou', weight=2.0)]))
    cfg['type'] = 'DINO'
    cfg.pop('pixel_embedding', None)
    return cfg


def encoder_cfg(pn: dict, args: argparse.Namespace, last_channels: int) -> dict:
    return dict(type='ImageEncoder', proposal_network=pn,
                global_tokens=dict(type='GlobalTokens', in_channels=last_channels, num_pools=1,
                                   num_heads=8),
                embed_dims=args.embed_dims,
                num_proposals=min(args.num_proposals, pn['num_queries']))


def make_batch(args, device):
    import torch
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    gen = torch.Generator().manual_seed(0)
    size = args.size
    inputs = torch.randn(args.batch, 3, size, size, generator=gen).to(device)
    samples = []
    for _ in range(args.batch):
        xy = torch.rand(args.gts, 2, generator=gen) * size * 0.6
        wh = torch.rand(args.gts, 2, generator=gen) * size * 0.3 + size * 0.05
        boxes = torch.cat([xy, xy + wh], 1).round().clamp(max=size)
        masks = torch.zeros(args.gts, size, size, dtype=torch.uint8)
        for i, (x0, y0, x1, y1) in enumerate(boxes.int().tolist()):
            masks[i, y0:y1, x0:x1] = 1
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size),
                                             batch_input_shape=(size, size),
                                             ori_shape=(size, size), scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(bboxes=boxes.to(device),
                                           labels=torch.zeros(args.gts, dtype=torch.long,
                                                              device=device),
                                           masks=BitmapMasks(masks.numpy(), size, size))
        samples.append(sample)
    return inputs, samples


def build_models(args: argparse.Namespace, device) -> dict:
    import torch
    from mmdet.registry import MODELS
    pn = proposal_network_cfg(args)
    backbone = MODELS.build(copy.deepcopy(pn['backbone']))
    with torch.no_grad():
        last_channels = backbone(torch.zeros(1, 3, 64, 64))[-1].shape[1]
    del backbone
    dino = MODELS.build(dino_cfg(pn))
    if dino.embed_dims != 256:   # same fix as MaskDINOProposalDetector (see there)
        from mmdet.models.layers.transformer.utils import MLP
        dino.decoder.ref_point_head = MLP(512, dino.embed_dims, dino.embed_dims, 2)
    encoder = MODELS.build(encoder_cfg(pn, args, last_channels))
    models = dict(dino=dino, encoder=encoder)
    for model in models.values():
        model.init_weights()
        model.to(device).train()
    return models


def main() -> None:
    args = parse_args()
    import torch
    from mmengine.registry import init_default_scope
    import uniperceiver_v2  # noqa: F401
    init_default_scope('mmdet')
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    models = build_models(args, device)
    inputs, samples = make_batch(args, device)
    saved = {}

    def pack(t):   # bytes of the distinct storages kept for backward = activation memory
        storage = t.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return t

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    def step(name: str) -> dict:
        model = models[name]
        saved.clear()
        sync()
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
            resident = torch.cuda.memory_allocated()
        clock = time.process_time if args.clock == 'cpu' else time.perf_counter
        start = clock()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            if name == 'encoder':
                tokens, losses = model.loss(inputs, samples)
                loss = sum(losses.values()) + tokens.global_tokens.mean() + \
                    tokens.proposal_tokens.mean()
            else:
                loss = sum(v for v in model.loss(inputs, samples).values())
        activation_mb = sum(saved.values()) / 2**20
        loss.backward()
        sync()
        elapsed = clock() - start
        model.zero_grad(set_to_none=True)
        out = dict(time=elapsed, activation_mb=activation_mb)
        if device.type == 'cuda':
            out['peak_mb'] = (torch.cuda.max_memory_allocated() - resident) / 2**20
        return out

    for _ in range(args.warmup):
        for name in models:
            step(name)
    # alternate the two models so that load changes on a shared machine hit both alike
    records = {name: [] for name in models}
    for _ in range(args.iters):
        for name in models:
            records[name].append(step(name))

    print(f'device={args.device} config={osp.basename(args.config)} size={args.size} '
          f'batch={args.batch} gts/img={args.gts} iters={args.iters} (alternating) '
          f'threads={torch.get_num_threads()} clock={args.clock}')
    summary = {}
    for name, recs in records.items():
        times = sorted(r['time'] for r in recs)
        summary[name] = dict(median=times[len(times) // 2], min=times[0],
                             act=recs[-1]['activation_mb'],
                             peak=max(r.get('peak_mb', 0.0) for r in recs),
                             params=sum(p.numel() for p in models[name].parameters()) / 1e6)
        peak = f"  CUDA peak above resident {summary[name]['peak']:8.1f} MB" \
            if device.type == 'cuda' else ''
        print(f"{name:8s} fwd+bwd median {summary[name]['median'] * 1000:8.1f} ms "
              f"(min {summary[name]['min'] * 1000:.1f})  saved activations "
              f"{summary[name]['act']:8.1f} MB{peak}  params {summary[name]['params']:.2f}M")
    enc, dino = summary['encoder'], summary['dino']
    line = (f"ratio encoder/DINO: time {enc['median'] / dino['median']:.2f}x (min "
            f"{enc['min'] / dino['min']:.2f}x)  saved activations "
            f"{enc['act'] / dino['act']:.2f}x")
    if device.type == 'cuda':
        line += f"  CUDA peak {enc['peak'] / dino['peak']:.2f}x"
    else:
        line += (f"  (process peak RSS, both models: "
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    print(line)


if __name__ == '__main__':
    main()
