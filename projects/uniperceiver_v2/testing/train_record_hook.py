"""A hook that records real training runs, for the entry-point tests and the benchmarks.

Add it to a config with ``custom_imports=dict(imports=['uniperceiver_v2',
'uniperceiver_v2.testing'])``.  Per rank it appends one JSON line per training iteration to
``<out_dir>/rank<r>.jsonl`` - the iteration, the batch's task, every logged loss value and the wall
clock (``time.time()``) at the end of the iteration - and at the end of training saves the model's
parameters to ``<out_dir>/rank<r>_params.pt``.
"""
import json
import os
import time
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class TrainRecordHook(Hook):
    """Record tasks, losses, iteration end times and final parameters of a run, per rank.

    Args:
        out_dir (str): where the records go.
    """
    priority = 'VERY_LOW'

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        losses = {k: float(torch.as_tensor(v).detach()) for k, v in (outputs or {}).items()}
        line = dict(iter=runner.iter, task=data_batch['task'], losses=losses, time=time.time())
        with open(os.path.join(self.out_dir, f'rank{get_rank()}.jsonl'), 'a') as f:
            f.write(json.dumps(line) + '\n')

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                   os.path.join(self.out_dir, f'rank{get_rank()}_params.pt'))


def write_small_run_config(path: str, base: str, records_dir: str, max_iters: int,
                           ckpt_interval: int, batch_size: int = 4, num_workers: int = 0,
                           proposal_checkpoint: Optional[str] = None) -> str:
    """A config that runs the shipped ``base`` small and recorded: the embedded default's four tasks
    with ``batch_size`` images (detection half that), ``num_workers`` data workers (persistent)
    per task, no validation or test, a
    log line and a record per iteration, a checkpoint every ``ckpt_interval`` iterations.

    Args:
        path (str): where to write the config.
        base (str): the shipped config it inherits (absolute path).
        records_dir (str): ``TrainRecordHook.out_dir``.
        max_iters (int): ``train_cfg.max_iters``.
        ckpt_interval (int): ``CheckpointHook.interval`` (all checkpoints kept).
        batch_size (int): per task and rank.
        num_workers (int): data-loader workers per task.
        proposal_checkpoint (str, optional): the stage-1 proposal-network checkpoint the model
            starts from; None = no stage 1 (the proposal network starts from the backbone
            weights alone).

    Returns:
        str: ``path``.
    """
    det = max(1, batch_size // 2)
    text = f"""_base_ = [{str(base)!r}]
custom_imports = dict(imports=['uniperceiver_v2', 'uniperceiver_v2.testing'],
                     allow_failed_imports=False)
custom_hooks = [dict(type='TrainRecordHook', out_dir={str(records_dir)!r})]
train_cfg = dict(max_iters={max_iters})
_loader = dict(num_workers={num_workers}, persistent_workers={num_workers > 0})
train_dataloader = dict(syn_cls=dict(batch_size={batch_size}, **_loader),
                        syn_det=dict(batch_size={det}, **_loader),
                        syn_cap=dict(batch_size={batch_size}, **_loader),
                        syn_ret=dict(batch_size={batch_size}, **_loader))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval}, max_keep_ckpts=-1))
model = dict(image_encoder=dict(proposal_checkpoint={proposal_checkpoint!r}))
"""
    with open(path, 'w') as f:
        f.write(text)
    return path
