"""MultiTaskValLoop / MultiTaskTestLoop: each task's loader with its own evaluator, metrics
reported under '<task>/', save_best on a task metric."""
import glob
import os.path as osp
import shutil

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import uniperceiver_v2  # noqa: F401
from multi_task_standin import StandInMultiTaskModel, ToyTaskDataset

needs_java = pytest.mark.skipif(shutil.which('java') is None, reason='PTB tokenizer needs Java')


def loader(task, infinite=False):
    return dict(dataset=ToyTaskDataset(task, n=8, seed=len(task)), batch_size=4, num_workers=0,
                sampler=dict(type='InfiniteSampler' if infinite else 'DefaultSampler',
                             shuffle=False),
                collate_fn=dict(type='default_collate'))


EVALUATORS = dict(cls=dict(type='mmpretrain.Accuracy'),
                  ret=dict(type='mmpretrain.RetrievalRecall', topk=(1, 2)),
                  cap=dict(type='CaptionMetric', use_meteor=False))


class TaskSeenHook(Hook):
    def __init__(self) -> None:
        self.seen = []

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append((batch_idx, data_batch['task'], runner.message_hub.get_info('task')))

    before_test_iter = before_val_iter


def make_runner(work_dir, **kwargs):
    torch.manual_seed(0)
    hook = TaskSeenHook()
    cfg = dict(model=StandInMultiTaskModel(), work_dir=work_dir, default_scope='mmengine',
               val_dataloader={t: loader(t) for t in EVALUATORS}, val_evaluator=dict(EVALUATORS),
               val_cfg=dict(type='MultiTaskValLoop'),
               test_dataloader={t: loader(t) for t in EVALUATORS}, test_evaluator=dict(EVALUATORS),
               test_cfg=dict(type='MultiTaskTestLoop'), custom_hooks=[hook])
    cfg.update(kwargs)
    return Runner(**cfg), hook


def direct_accuracy(model, task):
    ds = ToyTaskDataset(task, n=8, seed=len(task))
    with torch.no_grad():
        pred = model.cls_head(model.trunk(ds.x)).argmax(1)
    return 100.0 * float((pred == ds.label).float().mean())


@needs_java
def test_val_and_test_report_every_task_under_its_prefix(tmp_path):
    runner, hook = make_runner(str(tmp_path))
    metrics = runner.val()
    expected = {'cls/top1', 'ret/Recall@1', 'ret/Recall@2', 'cap/Bleu_1', 'cap/Bleu_2',
                'cap/Bleu_3', 'cap/Bleu_4', 'cap/ROUGE_L', 'cap/CIDEr'}
    assert set(metrics) == expected
    assert metrics['cls/top1'] == pytest.approx(direct_accuracy(runner.model, 'cls'))
    # the batch carries the task; batch indices run over all tasks (ETA/logging)
    assert [s[1] for s in hook.seen] == ['cls', 'cls', 'ret', 'ret', 'cap', 'cap']
    assert all(s[2] is None for s in hook.seen)  # the task travels with the batch only
    assert [s[0] for s in hook.seen] == list(range(6))
    assert len(runner.val_dataloader) == 6
    assert set(runner.test()) == expected


def test_evaluator_and_loader_keys_must_match(tmp_path):
    runner, _ = make_runner(str(tmp_path), val_evaluator=dict(cls=EVALUATORS['cls'],
                                                              det=dict(type='mmpretrain.Accuracy')))
    with pytest.raises(KeyError, match=r"val_evaluator has task\(s\) \['det'\]"):
        runner.val()
    runner, _ = make_runner(str(tmp_path), val_evaluator=dict(type='mmpretrain.Accuracy'))
    with pytest.raises(TypeError, match='val_evaluator must be a dict keyed by task'):
        runner.val()


@needs_java
def test_save_best_on_a_task_metric(tmp_path):
    runner, _ = make_runner(
        str(tmp_path), test_dataloader=None, test_evaluator=None, test_cfg=None,
        train_dataloader=dict(cls=loader('cls', True), ret=loader('ret', True),
                              cap=loader('cap', True)),
        train_cfg=dict(type='MultiTaskTrainLoop', max_iters=2, val_interval=2,
                       tasks=dict(cls={}, ret={}, cap={})),
        optim_wrapper=dict(type='TBGNOptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=100, by_epoch=False,
                                           save_best='cls/top1', rule='greater')))
    runner.train()
    assert glob.glob(osp.join(str(tmp_path), 'best_cls_top1_iter_2.pth'))


def test_mmdet_coco_metric_reports_under_the_task_name():
    from mmdet.evaluation import CocoMetric
    from mmengine.evaluator import Evaluator

    from uniperceiver_v2.engine.multi_task_val_loop import prefix_metrics_with_task
    ev = Evaluator([CocoMetric(metric=['bbox', 'segm']),
                    CocoMetric(metric=['bbox'], prefix='agnostic')])
    prefix_metrics_with_task(ev, 'coco_det')
    # default prefix 'coco' -> 'coco_det/bbox_mAP'; a configured prefix stays under the task
    assert [m.prefix for m in ev.metrics] == ['coco_det', 'coco_det/agnostic']

