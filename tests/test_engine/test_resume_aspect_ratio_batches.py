"""Exact resume through mmdet's ``AspectRatioBatchSampler`` (the COCO configs' batch sampler).

The batch sampler puts every index into a bucket by aspect ratio and yields a bucket when it is
full, so indices wait in its buckets between batches: the sampler position of a checkpoint is not
where the next batch starts.  A run stopped at iteration 6 and resumed must still train exactly the
batches, losses and weights of the uninterrupted run.
"""
import pytest
import torch
from mmengine.runner import Runner

import uniperceiver_v2  # noqa: F401  (registers the loop, samplers and TBGN)
from multi_task_standin import RecordHook, StandInMultiTaskModel, ToyTaskDataset
from uniperceiver_v2.datasets import ResumableBatchSampler
from uniperceiver_v2.utils import apply_compat


class AspectToyDataset(ToyTaskDataset):
    """The toy task with image sizes: items whose index is a multiple of 3 are portrait."""

    def get_data_info(self, i: int) -> dict:
        return dict(width=40, height=60) if i % 3 == 0 else dict(width=60, height=40)


def loader(task: str, batch_sampler: bool) -> dict:
    cfg = dict(dataset=AspectToyDataset(task, n=13, seed=len(task)), batch_size=3, num_workers=0,
               sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
               collate_fn=dict(type='default_collate'))
    if batch_sampler:
        cfg['batch_sampler'] = dict(type='mmdet.AspectRatioBatchSampler')
    return cfg


def run(work_dir: str, name: str, stop_at=None, resume=False):
    torch.manual_seed(0)
    record = RecordHook(stop_at)
    runner = Runner(
        model=StandInMultiTaskModel(gather_features=False), work_dir=work_dir,
        experiment_name=name, default_scope='mmengine',
        train_dataloader=dict(cls=loader('cls', batch_sampler=True),
                              ret=loader('ret', batch_sampler=False)),
        train_cfg=dict(type='MultiTaskTrainLoop', max_iters=14, val_interval=100,
                       tasks=dict(cls=dict(sampling_weight=2.0), ret=dict(sampling_weight=1.0))),
        optim_wrapper=dict(type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
                           optimizer=dict(type='AdamW', lr=0.02)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=7, by_epoch=False)),
        log_processor=dict(by_epoch=False), custom_hooks=[record], randomness=dict(seed=0),
        resume=resume)
    runner.train()
    return runner, record


def test_resume_with_aspect_ratio_batch_sampler_is_exact(tmp_path):
    apply_compat()  # what tools/train.py does: resuming reads MMEngine's own checkpoints
    full, full_record = run(str(tmp_path / 'full'), 'full')
    cls_loader = full.train_loop.dataloaders['cls']
    assert isinstance(cls_loader.batch_sampler, ResumableBatchSampler)
    assert type(cls_loader.batch_sampler.batch_sampler).__name__ == 'AspectRatioBatchSampler'
    cls_batches = [i for t, i in zip(full_record.tasks, full_record.indices) if t == 'cls']
    # every batch is one aspect-ratio group, and some indices waited in a bucket
    assert all(len({j % 3 == 0 for j in batch}) == 1 for batch in cls_batches)
    assert len(cls_batches) >= 6

    work_dir = str(tmp_path / 'resumed')
    _, first = run(work_dir, 'first', stop_at=7)
    resumed, second = run(work_dir, 'second', resume=True)
    assert len(first.tasks) == 7 and len(second.tasks) == 7
    assert first.tasks + second.tasks == full_record.tasks
    assert first.indices + second.indices == full_record.indices
    assert first.losses + second.losses == full_record.losses
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


def test_skip_needs_a_resumable_sampler():
    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from mmengine.dataset import InfiniteSampler
    dataset = AspectToyDataset('cls', n=5)
    with pytest.raises(TypeError, match='ResumableInfiniteSampler'):
        ResumableBatchSampler(InfiniteSampler(dataset, seed=0), 2,
                              dict(type='mmdet.AspectRatioBatchSampler'))
    from uniperceiver_v2.datasets import ResumableInfiniteSampler
    sampler = ResumableInfiniteSampler(dataset, seed=0)
    batches = ResumableBatchSampler(sampler, 2, AspectRatioBatchSampler(sampler, 2))
    stream = iter(batches)
    expected = [next(stream) for _ in range(5)]
    fresh = ResumableInfiniteSampler(dataset, seed=0)
    resumed = ResumableBatchSampler(fresh, 2, AspectRatioBatchSampler(fresh, 2))
    resumed.skip(2)
    stream = iter(resumed)
    assert [next(stream) for _ in range(3)] == expected[2:]
