"""Open-vocabulary figures of a checkpoint on the synthetic seen / held-out split
(``experiments/open_vocabulary/open_vocabulary_split.py``): detection box AP with all 20 names (mean AP of the
seen and of the held-out categories) and with the 5 held-out names alone, classification top-1
on images of seen / held-out labels, and grounding precision@1 on expressions about seen /
held-out objects.  Every figure comes from the stock metric (mmdet ``CocoMetric``, mmpretrain
``Accuracy`` and ``VisualGroundingMetric``) on the config's own pipelines.

Example::

    python experiments/open_vocabulary/open_vocabulary_eval.py \\
        experiments/open_vocabulary/configs/upv2_tiny_ov15_synthetic.py \\
        work_dirs/upv2_tiny_ov15_synthetic/iter_1000.pth \\
        --out experiments/open_vocabulary/results/open_vocabulary_ov15.json

The config needs tasks ``syn_det``, ``syn_cls`` and ``syn_ground`` with validation loaders (the
open-vocabulary config and the 7-task config both have them); a task the config lacks is skipped.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence


import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.evaluator import Evaluator  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402

import uniperceiver_v2  # noqa: E402,F401
from uniperceiver_v2.utils import apply_compat  # noqa: E402


def read_names(path: str) -> List[str]:
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def variants(cfg, data_root: str, max_samples: Optional[int] = None) -> List[dict]:
    """The evaluations: name, task, dataloader config, evaluator config, class names
    (``max_samples``: only the first samples of each dataset, for a quick look)."""
    ov = osp.join(data_root, 'open_vocab')
    all_names = read_names(osp.join(data_root, 'meta', 'classes.txt'))
    unseen = read_names(osp.join(ov, 'classes_unseen.txt'))
    out = []

    def loader(task: str, dataset: dict) -> dict:
        dl = cfg.val_dataloader[task].to_dict()  # plain dicts: ConfigDict.update merges
        if max_samples is not None:
            dataset = dict(dataset, indices=max_samples)
        dl.update(num_workers=0, persistent_workers=False, dataset=dataset)
        return dl

    if 'syn_det' in cfg.val_dataloader:
        base = cfg.val_dataloader.syn_det.dataset.to_dict()
        for name, ann, names, classwise in (
                ('det_all20', osp.join(data_root, 'annotations', 'instances_val.json'),
                 all_names, True),
                ('det_unseen5_only', osp.join(ov, 'instances_val_unseen.json'), unseen, False)):
            dataset = dict(base, data_root='', ann_file=ann, metainfo=dict(classes=tuple(names)),
                           data_prefix=dict(img=osp.join(data_root, 'val') + '/'))
            out.append(dict(name=name, task='syn_det', dataloader=loader('syn_det', dataset),
                            evaluator=dict(type='CocoMetric', ann_file=ann, metric=['bbox'],
                                           classwise=classwise), class_names=names))
    if 'syn_cls' in cfg.val_dataloader:
        pipeline = cfg.val_dataloader.syn_cls.dataset.to_dict()['pipeline']
        for name, ann, classes in (
                ('cls_seen_images_all20', 'val_seen.txt', 'meta/classes.txt'),
                ('cls_unseen_images_all20', 'val_unseen.txt', 'meta/classes.txt'),
                ('cls_unseen5_only', 'val_unseen_only.txt', 'open_vocab/classes_unseen.txt')):
            classes = osp.join(data_root, classes)
            dataset = dict(type='mmpretrain.CustomDataset', data_root=data_root,
                           data_prefix='val', ann_file=osp.join('open_vocab', ann),
                           classes=classes, pipeline=pipeline)
            out.append(dict(name=name, task='syn_cls', dataloader=loader('syn_cls', dataset),
                            evaluator=dict(type='mmpretrain.Accuracy', topk=(1, )),
                            class_names=read_names(classes)))
    if 'syn_ground' in cfg.val_dataloader:
        base = cfg.val_dataloader.syn_ground.dataset.to_dict()
        for split in ('val_seen', 'val_unseen'):
            dataset = dict(base, split_file='open_vocab/refs(synthetic_ov).p', split=split)
            out.append(dict(name=f'ground_{split}', task='syn_ground',
                            dataloader=loader('syn_ground', dataset),
                            evaluator=dict(type='mmpretrain.VisualGroundingMetric'),
                            class_names=None))
    return out


@torch.no_grad()
def evaluate(model, variant: dict) -> Dict[str, float]:
    """Run one evaluation with its class names (the task's own names are restored after)."""
    task = model.tasks[variant['task']]
    saved = getattr(task, 'test_class_names', None)
    if variant['class_names'] is not None:
        task.set_class_names(variant['class_names'])
    try:
        loader = Runner.build_dataloader(variant['dataloader'])
        evaluator = Evaluator(variant['evaluator'])
        evaluator.dataset_meta = loader.dataset.metainfo
        for batch in loader:
            batch['task'] = variant['task']
            evaluator.process(model.test_step(batch), batch)
        metrics = evaluator.evaluate(len(loader.dataset))
    finally:
        if variant['class_names'] is not None:
            task.test_class_names = saved
    return {k: float(v) for k, v in metrics.items()}


def summarise(results: Dict[str, Dict[str, float]], seen: Sequence[str],
              unseen: Sequence[str]) -> Dict[str, float]:
    """The headline figures (percent)."""
    out = {}
    det = results.get('det_all20')
    if det is not None:
        per_class = {k.split('/')[-1][:-len('_precision')]: v for k, v in det.items()
                     if k.endswith('_precision')}
        out['det_box_AP_all20'] = 100 * det['coco/bbox_mAP']
        for key, names in (('det_box_AP_seen15_of20', seen), ('det_box_AP_unseen5_of20', unseen)):
            values = [per_class[n] for n in names  # nan: a category without instances
                      if n in per_class and per_class[n] == per_class[n]]
            out[key] = 100 * sum(values) / max(len(values), 1)
    if 'det_unseen5_only' in results:
        out['det_box_AP_unseen5_only'] = 100 * results['det_unseen5_only']['coco/bbox_mAP']
    for name in ('cls_seen_images_all20', 'cls_unseen_images_all20', 'cls_unseen5_only'):
        if name in results:
            out[f'{name}_top1'] = results[name]['accuracy/top1']
    for name in ('ground_val_seen', 'ground_val_unseen'):
        if name in results:
            out[f'{name}_precision@1'] = 100 * results[name]['visual-grounding/acc']
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict:
    apply_compat()  # MMEngine checkpoints under torch's safe loader, as tools/test.py does
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--out', help='write the figures as JSON')
    parser.add_argument('--max-samples', type=int, help='first samples of each set only')
    args = parser.parse_args(argv)
    for path in (args.config, args.checkpoint,
                 osp.join(args.data_root, 'open_vocab', 'classes_unseen.txt')):
        if not osp.isfile(path):
            raise SystemExit(f'open_vocabulary_eval: {path} not found (for open_vocab/: run '
                             'experiments/open_vocabulary/open_vocabulary_split.py)')
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    results = {v['name']: evaluate(model, v)
               for v in variants(cfg, args.data_root, args.max_samples)}
    seen = read_names(osp.join(args.data_root, 'open_vocab', 'classes_seen.txt'))
    unseen = read_names(osp.join(args.data_root, 'open_vocab', 'classes_unseen.txt'))
    report = dict(config=args.config, checkpoint=args.checkpoint, seen=seen, unseen=unseen,
                  summary=summarise(results, seen, unseen), metrics=results)
    for key, value in report['summary'].items():
        print(f'{key:34s} {value:6.1f}')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == '__main__':
    main()
