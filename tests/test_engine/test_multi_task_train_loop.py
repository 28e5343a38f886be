"""MultiTaskTrainLoop with a stand-in model: config contract, task tagging, 2-process unmixed
training with gathered retrieval (gloo), TBGN, checkpoint resume."""
import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.runner import Runner

import uniperceiver_v2  # noqa: F401  (registers loops and TBGN)
from uniperceiver_v2.engine.preemption import WorkerIgnoresSigterm
from uniperceiver_v2.utils import apply_compat
from multi_task_standin import RecordHook, StandInMultiTaskModel, ToyTaskDataset

TASKS = dict(cls=dict(sampling_weight=2.0), ret=dict(sampling_weight=1.0))


def loader(task, batch_size=4, n=16, num_workers=0):
    return dict(dataset=ToyTaskDataset(task, n=n, seed=len(task)), batch_size=batch_size,
                num_workers=num_workers, persistent_workers=num_workers > 0,
                sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
                collate_fn=dict(type='default_collate'))


def val_loader(task):
    return dict(dataset=ToyTaskDataset(task, n=8, seed=len(task)), batch_size=4, num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'))


def make_runner(work_dir, name, max_iters=24, stop_at=None, resume=False, distributed=False,
                train_cfg=None, train_dataloader=None, **kwargs):
    torch.manual_seed(0)
    record = RecordHook(stop_at)
    cfg = dict(
        model=StandInMultiTaskModel(gather_features=True),
        work_dir=work_dir, experiment_name=name, default_scope='mmengine',
        train_dataloader=train_dataloader or dict(cls=loader('cls'), ret=loader('ret')),
        train_cfg=train_cfg or dict(type='MultiTaskTrainLoop', max_iters=max_iters,
                                    val_interval=12, tasks=TASKS, sampling='unmixed'),
        val_dataloader=dict(cls=val_loader('cls'), ret=val_loader('ret')),
        val_evaluator=dict(cls=dict(type='mmpretrain.Accuracy'),
                           ret=dict(type='mmpretrain.RetrievalRecall', topk=(1, ))),
        val_cfg=dict(type='MultiTaskValLoop'),
        optim_wrapper=dict(type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
                           optimizer=dict(type='AdamW', lr=0.02, betas=(0.9, 0.95),
                                          weight_decay=0.01),
                           task_weights=dict(cls=1.0, ret=1.0)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=4)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=6, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=6)),
        log_processor=dict(by_epoch=False),
        custom_hooks=[record], randomness=dict(seed=0), resume=resume,
        launcher='pytorch' if distributed else 'none',
        # the multi-task DDP wrapper the UniPerceiverV2 model bases set
        cfg=dict(model_wrapper_cfg=dict(type='MultiTaskDistributedDataParallel',
                                        find_unused_parameters=True)) if distributed else None)
    cfg.update(kwargs)
    return Runner(**cfg), record


# ----------------------------------------------------------------------------- single process
def test_config_keys_must_match(tmp_path):
    bad = dict(type='MultiTaskTrainLoop', max_iters=4, tasks=dict(cls={}, det={}))
    runner, _ = make_runner(str(tmp_path), 'bad', train_cfg=bad, val_dataloader=None,
                            val_evaluator=None, val_cfg=None)
    with pytest.raises(KeyError,
                       match=r"train_cfg.tasks has task\(s\) \['det'\].*train_dataloader"):
        runner.train()
    runner, _ = make_runner(str(tmp_path), 'bad2', train_dataloader=dict(cls=loader('cls')),
                            val_dataloader=None, val_evaluator=None, val_cfg=None)
    with pytest.raises(KeyError, match=r"train_cfg.tasks has task\(s\) \['ret'\]"):
        runner.train()


def test_auto_scale_lr_fails_clearly(tmp_path):
    runner, _ = make_runner(str(tmp_path), 'asl',
                            auto_scale_lr=dict(enable=True, base_batch_size=8),
                            val_dataloader=None, val_evaluator=None, val_cfg=None)
    with pytest.raises(ValueError, match='auto_scale_lr'):
        runner.train()


def test_single_process_training_tags_batches_and_hands_task_to_tbgn(tmp_path):
    runner, record = make_runner(str(tmp_path), 'single', max_iters=6, val_dataloader=None,
                                 val_evaluator=None, val_cfg=None,
                                 train_dataloader=dict(cls=loader('cls', num_workers=1),
                                                       ret=loader('ret', num_workers=1)))
    runner.train()
    # task switching restarts no data loader: each task's batches come from one worker process
    for task in ('cls', 'ret'):
        pids = set().union(*(p for t, p in zip(record.tasks, record.pids) if t == task))
        assert len(pids) == 1 and os.getpid() not in pids
    assert len(record.tasks) == 6 and set(record.tasks) <= {'cls', 'ret'}
    # data workers leave SIGTERM to the main process, and are shut down when training ends
    for task in ('cls', 'ret'):
        task_loader = runner.train_loop.dataloaders[task]
        assert isinstance(task_loader.worker_init_fn, WorkerIgnoresSigterm)
        assert getattr(task_loader, '_iterator', None) is None
    assert runner.train_loop.dataloader_iterators == {}
    assert runner.message_hub.get_info('task') is None  # the task travels with the batch only
    assert record.tasks == runner.train_loop.sampler.sequence(0, 6)
    assert len(runner.train_dataloader) == 6  # what hooks see: the whole run is one "epoch"
    assert set(runner.train_dataloader.dataset.metainfo) == {'cls', 'ret'}
    wrapper = runner.optim_wrapper
    assert wrapper.task_steps == {t: record.tasks.count(t) for t in set(record.tasks)}


# ----------------------------------------------------------------------------- 2 processes (gloo)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    from uniperceiver_v2.utils import all_gather_with_grad
    apply_compat()  # what tools/train.py does: resuming reads MMEngine's own checkpoints
    result = {}

    # all_gather_with_grad: values and gradients (loss_r = (r+1) * sum(y^2) on rank r)
    x = (torch.arange(6.).view(2, 3) + 10 * rank).requires_grad_()
    y = all_gather_with_grad(x)
    ((rank + 1) * (y**2).sum()).backward()
    result['gather_values'] = y.tolist()
    result['gather_grad'] = x.grad.tolist()
    result['gather_x'] = x.tolist()

    def run(name, **kw):
        runner, record = make_runner(os.path.join(out_dir, name), name, distributed=True, **kw)
        runner.train()
        params = {k: v.tolist() for k, v in runner.model.module.state_dict().items()}
        gathered = [None] * world
        dist.all_gather_object(gathered, dict(tasks=record.tasks, indices=record.indices,
                                              losses=record.losses, vals=record.val_metrics))
        return gathered, params

    result['full'], result['full_params'] = run('full')
    result['first'], _ = run('resumed', stop_at=12)
    result['second'], result['resumed_params'] = run('resumed', resume=True)
    with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(result, f)
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def two_rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp('mt_dist')
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return [json.load(open(out / f'rank{r}.json')) for r in range(2)]


@pytest.mark.integration
def test_all_gather_with_grad_values_and_gradients(two_rank_results):
    xs = [torch.tensor(r['gather_x']) for r in two_rank_results]
    for rank, r in enumerate(two_rank_results):
        torch.testing.assert_close(torch.tensor(r['gather_values']), torch.cat(xs))
        # d/dx_q sum_r (r+1) ||x_q||^2 = 2 (1 + 2) x_q: every rank's loss reaches x_q
        torch.testing.assert_close(torch.tensor(r['gather_grad']), 6 * xs[rank])


@pytest.mark.integration
def test_two_ranks_draw_same_tasks_and_train(two_rank_results):
    full = two_rank_results[0]['full']
    assert full[0]['tasks'] == full[1]['tasks'] and len(full[0]['tasks']) == 24
    assert set(full[0]['tasks']) == {'cls', 'ret'}
    assert full[0]['indices'] != full[1]['indices']  # each rank reads its own data shard
    for task in ('cls', 'ret'):
        losses = [v for t, v in full[0]['losses'] if t == task]
        k = max(2, len(losses) // 3)
        assert sum(losses[-k:]) / k < sum(losses[:k]) / k, (task, losses)
    vals = full[0]['vals']
    assert len(vals) == 2 and set(vals[-1]) == {'cls/top1', 'ret/Recall@1'}
    assert vals[-1] == full[1]['vals'][-1]
    # the final validation ran on the final weights: its accuracy over both ranks' shards equals
    # the accuracy computed directly on the whole validation set
    model = StandInMultiTaskModel()
    params = two_rank_results[0]['full_params']
    model.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    ds = ToyTaskDataset('cls', n=8, seed=len('cls'))
    with torch.no_grad():
        pred = model.cls_head(model.trunk(ds.x)).argmax(1)
    acc = 100.0 * float((pred == ds.label).float().mean())
    assert vals[-1]['cls/top1'] == pytest.approx(acc)


@pytest.mark.integration
def test_resume_continues_task_sequence_data_and_weights(two_rank_results):
    for r in two_rank_results:
        full, first, second = r['full'], r['first'], r['second']
        for rank in range(2):
            assert len(first[rank]['tasks']) == 12 and len(second[rank]['tasks']) == 12
            assert first[rank]['tasks'] + second[rank]['tasks'] == full[rank]['tasks']
            assert first[rank]['indices'] + second[rank]['indices'] == full[rank]['indices']
        for k, v in r['full_params'].items():
            torch.testing.assert_close(torch.tensor(r['resumed_params'][k]), torch.tensor(v))


def test_resume_with_new_sampling_weights_hands_the_new_ones_to_tbgn(tmp_path):
    apply_compat()  # what tools/train.py does: resuming reads MMEngine's own checkpoints
    no_val = dict(val_dataloader=None, val_evaluator=None, val_cfg=None,
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                                     by_epoch=False)))
    runner, _ = make_runner(str(tmp_path), 'w1', max_iters=4, stop_at=2, **no_val)
    runner.train()
    new_tasks = dict(cls=dict(sampling_weight=1.0), ret=dict(sampling_weight=3.0))
    runner, record = make_runner(
        str(tmp_path), 'w2', resume=True, **no_val,
        train_cfg=dict(type='MultiTaskTrainLoop', max_iters=4, tasks=new_tasks))
    runner.train()
    assert len(record.tasks) == 2  # resumed at iteration 2 of 4
    # the checkpoint was written with the old s_k; TBGN must use the configured ones
    assert runner.optim_wrapper.task_factors('ret') == pytest.approx((1.0, 0.75))
