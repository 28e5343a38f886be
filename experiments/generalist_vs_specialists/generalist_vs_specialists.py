"""Generalist vs specialists on the embedded synthetic data (paper Tab. 3 and Tab. 4), one command.

Every row of the grid is a training run through ``tools/train.py`` (``tools/dist_train.sh`` for
several ranks): a shipped config, a few config overrides, a seed and an iteration count.  Metrics
are read back from each run's work dir (MMEngine's ``vis_data/scalars.json``: the standard
evaluators' results), never recomputed here.  The rows:

- **specialists**: a class-aware Mask DINO (``experiments/generalist_vs_specialists/configs/specialists/``, the proposal network with 20
  class logits) and an mmpretrain ``ImageClassifier``, same frozen ImageNet MobileNetV2;
- **UPv2 single task** (``experiments/generalist_vs_specialists/configs/single_task/``): the model trained on one task alone, the paper's
  specialist row for captioning and retrieval;
- **Tab. 3**: all tasks without MoE, all tasks with MoE (= the long schedule, :data:`REFERENCE`),
  each task left out once;
- **Tab. 4** on 2 gloo ranks: mixed sampling, unmixed, + gathered negatives, + TBGN;
- **TBGN (1 rank)**: AdamW + clip 0.1 at 5e-4 and 1.5e-4, against the embedded default (TBGN at
  1.5e-4, ``experiments/tbgn_step_size/README.md``) and TBGN at the former lr 5e-4 (Tab. 3 rows).

Rows measured before the embedded default's TBGN lr fell from 5e-4 to 1.5e-4 carry the former lr
as an option (:data:`FORMER_TBGN_LR`) and say so; a cached run is only reused while its config
still resolves to the optimizer and lr it ran with.

**Equal budget.**  The generalist (:data:`REFERENCE`, ``configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py``: the
embedded recipe at its long schedule, 800 + 1,400 iterations) trains task k for
``max_iters * s_k / sum(s)`` iterations in expectation (``train_cfg.tasks`` sampling weights).
A row's ``budget`` names the shares it gets - its tasks, and ``'pre_stage'`` for the iterations of
the generalist's pre-stage (:data:`EMBEDDED_PRE_STAGE`: the class-agnostic proposal network
trained alone, whose checkpoint starts the generalist's proposal network) - at the batch size of
that task.  UPv2 rows run the pre-stage first (once per seed, cached) and count its wall-clock
into theirs; the detection specialist gets its iterations instead.  Multi-task rows with fewer
tasks keep every task's share.
``--budget-scale`` multiplies every row's iterations (pre-stages included); warm-up and decay
points of ``param_scheduler`` scale with them.

Results of finished runs are kept in the output JSON; a rerun skips runs whose settings are
unchanged, so an interrupted grid resumes.  Usage::

    nice -n 10 python experiments/generalist_vs_specialists/generalist_vs_specialists.py    # full grid, seeds 0 1 -> results.*
    python experiments/generalist_vs_specialists/generalist_vs_specialists.py --rows spec_det all_moe --seeds 0 1 2 \\
        --budget-scale 0.25 --out work_dirs/gvs_quarter/grid

writes ``OUT.json`` (every run), ``OUT.md`` (the table, mean +- s.d. over seeds) and ``OUT.png``.
"""
import argparse
import functools
import json
import math
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = 'configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py'  # the embedded recipe's long schedule
PRE_STAGE = 'pre_stage'  # a budget entry: the iterations of the generalist's pre-stage
#: the embedded default's TBGN lr before experiments/tbgn_step_size/README.md (rows measured with it say so)
FORMER_TBGN_LR = {'optim_wrapper.optimizer.lr': 5e-4}


@dataclass(frozen=True)
class Stage:
    """A run trained before a row's own run; its final checkpoint starts the row's model.

    Args:
        config (str): config path relative to the repository root.
        options (dict): config overrides (dotted keys, ``Config.merge_from_dict``).
        into (str): the dotted config key of the next run that receives the checkpoint path:
            ``'load_from'`` (the whole model) or e.g. ``'model.image_encoder.proposal_checkpoint'``
            (one module; a ``Pretrained`` ``init_cfg`` would not do for the proposal network,
            whose DETR ``init_weights`` re-initialises the transformer after loading it).
    """
    config: str
    options: Dict = field(default_factory=dict)
    into: str = 'load_from'

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def hand_off(self, checkpoint: str) -> Dict:
        """The config override that starts the next run from ``checkpoint``."""
        return {self.into: checkpoint}


#: The embedded default's pre-stage (None: one stage): the class-agnostic proposal network trained
#: alone, whose last checkpoint starts the proposal network of configs/upv2_mobilenetv2_1xcpu-1400it_synthetic.py
#: (``proposal_checkpoint`` there).  Every UPv2 row runs it first (``--pre-stage none``: skip);
#: the detection specialist gets its iterations instead (budget entry ``'pre_stage'``).
EMBEDDED_PRE_STAGE: Optional[Stage] = Stage(
    'configs/proposal_network/maskdino-proposal_mobilenetv2_1xcpu-800it_synthetic.py',
    into='model.image_encoder.proposal_checkpoint')


@dataclass(frozen=True)
class Row:
    """One row of the grid.

    Args:
        name (str): short name (``--rows``).
        group (str): table section.
        label (str): what the row is, for the table.
        config (str): config path relative to the repository root.
        budget (tuple[str]): the generalist's shares this row gets: task names of
            :data:`REFERENCE` and/or ``'pre_stage'``.
        options (dict): config overrides (dotted keys).
        tasks (tuple[str], optional): keep only these tasks of a multi-task config.
        ranks (int): processes (``tools/dist_train.sh`` when > 1).
        pre_stage (bool): run the embedded default's pre-stage first (if it has one).
    """
    name: str
    group: str
    label: str
    config: str
    budget: Tuple[str, ...]
    options: Dict = field(default_factory=dict)
    tasks: Optional[Tuple[str, ...]] = None
    ranks: int = 1
    pre_stage: bool = False


TASKS = ('syn_cls', 'syn_det', 'syn_cap', 'syn_ret')
TASK_NAMES = dict(syn_cls='cls', syn_det='det', syn_cap='cap', syn_ret='ret')


def default_rows() -> List[Row]:
    """The grid: specialists, UPv2 single task, Tab. 3, Tab. 4."""
    single = dict(syn_cls='upv2_tiny_cls_synthetic', syn_det='upv2_det_synthetic',
                  syn_cap='upv2_tiny_cap_synthetic', syn_ret='upv2_tiny_ret_synthetic')
    rows = [
        Row('spec_det', 'specialist', 'class-aware Mask DINO (mmdet)',
            'experiments/generalist_vs_specialists/configs/specialists/maskdino_mobilenetv2_20cls_synthetic.py', (PRE_STAGE, 'syn_det')),
        Row('spec_cls', 'specialist', 'ImageClassifier, linear head (mmpretrain)',
            'experiments/generalist_vs_specialists/configs/specialists/mobilenetv2_linear_synthetic_cls.py', ('syn_cls', )),
    ]
    rows += [Row(f'single_{TASK_NAMES[t]}', 'UPv2 single task', f'UPv2, {TASK_NAMES[t]} alone',
                 f'experiments/generalist_vs_specialists/configs/single_task/{single[t]}.py', (t, ), pre_stage=True) for t in TASKS]
    rows += [
        Row('all_moe', 'Tab. 3', 'all tasks + MoE (long schedule = the recipe of the default)',
            REFERENCE, TASKS, pre_stage=True),
        Row('tbgn_lr05', 'Tab. 3', 'all tasks + MoE, TBGN at lr 5e-4 (former default)',
            REFERENCE, TASKS, options=FORMER_TBGN_LR, pre_stage=True),
        Row('no_moe', 'Tab. 3', 'all tasks, no MoE',
            'experiments/ablations/configs/upv2_tiny_synthetic_no_moe.py', TASKS, pre_stage=True),
        # measured before the embedded default's TBGN lr became 0.3x (experiments/tbgn_step_size/README.md): compare
        # them with the tbgn_lr05 row
        Row('all_no_moe', 'Tab. 3', 'all tasks, no MoE (TBGN lr 5e-4)',
            'experiments/ablations/configs/upv2_tiny_synthetic_no_moe.py', TASKS, options=FORMER_TBGN_LR,
            pre_stage=True),
    ]
    # leave one task out, at TBGN's current lr and (measured first) at the former one
    rows += [Row(f'loo_{TASK_NAMES[t]}{suffix}', 'Tab. 3',
                 f'all tasks + MoE, without {TASK_NAMES[t]}{label}', REFERENCE,
                 tuple(k for k in TASKS if k != t), options=options,
                 tasks=tuple(k for k in TASKS if k != t), pre_stage=True)
             for suffix, label, options in (('', '', {}), ('_lr05', ' (TBGN lr 5e-4)',
                                                          FORMER_TBGN_LR))
             for t in TASKS]
    tab4 = [('t4_mixed', 'mixed', 'experiments/ablations/configs/upv2_tiny_synthetic_mixed.py', {}),
            ('t4_unmixed', 'unmixed', 'experiments/ablations/configs/upv2_tiny_synthetic_no_gather_no_tbgn.py',
             {}),
            ('t4_gather', 'unmixed + gather', 'experiments/ablations/configs/upv2_tiny_synthetic_no_tbgn.py', {}),
            ('t4_tbgn', 'unmixed + gather + TBGN', REFERENCE, {}),
            ('t4_tbgn_lr05', 'unmixed + gather + TBGN at lr 5e-4', REFERENCE, FORMER_TBGN_LR)]
    rows += [Row(name, 'Tab. 4 (2 ranks)', label, config, TASKS, options=options, ranks=2,
                 pre_stage=True) for name, label, config, options in tab4]
    # TBGN against AdamW on one rank (experiments/tbgn_step_size/README.md; TBGN rows: all_moe, tbgn_lr05): AdamW + clip
    # 0.1 (the predecessor's recipe) at its own lr 5e-4 and at the embedded default's TBGN lr
    no_tbgn = 'experiments/ablations/configs/upv2_tiny_synthetic_no_tbgn.py'
    rows += [
        Row('tbgn_off', 'TBGN (1 rank)', 'all tasks + MoE, AdamW + clip 0.1 at lr 5e-4', no_tbgn,
            TASKS, pre_stage=True),
        Row('adamw_lr15', 'TBGN (1 rank)', 'all tasks + MoE, AdamW + clip 0.1 at lr 1.5e-4',
            no_tbgn, TASKS, options={'optim_wrapper.optimizer.lr':
                                     optimizer_signature(REFERENCE)['lr']}, pre_stage=True),
    ]
    return rows


#: canonical metric -> (column title, pattern of the evaluator's key, factor to percent)
METRICS = {
    'cls_top1': ('cls top-1', r'(^|/)top1$', 1.0),
    'det_box_ap': ('box AP', r'(^|/)bbox_mAP$', 100.0),
    'det_mask_ap': ('mask AP', r'(^|/)segm_mAP$', 100.0),
    # DetectionDecompositionMetric: the same detections class-agnostic / with the oracle class
    # (runs cached before it existed lack them: '-')
    'det_box_ap_agnostic': ('box AP agnostic', r'(^|/)bbox_mAP_agnostic$', 100.0),
    'det_box_ap_oracle_cls': ('box AP oracle cls', r'(^|/)bbox_mAP_oracle_cls$', 100.0),
    'det_mask_ap_agnostic': ('mask AP agnostic', r'(^|/)segm_mAP_agnostic$', 100.0),
    'det_mask_ap_oracle_cls': ('mask AP oracle cls', r'(^|/)segm_mAP_oracle_cls$', 100.0),
    'cap_bleu4': ('B@4', r'(^|/)Bleu_4$', 100.0),
    'cap_cider': ('CIDEr', r'(^|/)CIDEr$', 100.0),
    'ret_i2t_r1': ('i2t R@1', r'(^|/)i2t/(.+/)?Recall@1$', 1.0),
    'ret_t2i_r1': ('t2i R@1', r'(^|/)t2i/(.+/)?Recall@1$', 1.0),
}


# ------------------------------------------------------------------------------------- budget
def load_config(path: str):
    from mmengine.config import Config
    full = path if osp.isabs(path) else osp.join(ROOT, path)
    if not osp.isfile(full):
        raise FileNotFoundError(f'generalist_vs_specialists: config not found: {full}')
    return Config.fromfile(full)


def generalist_shares(cfg) -> Dict[str, float]:
    """Expected iterations of each task in the generalist: ``max_iters * s_k / sum(s)``.

    Args:
        cfg (Config): a ``MultiTaskTrainLoop`` config (``train_cfg.tasks`` with sampling weights).
    """
    tasks = cfg.train_cfg.get('tasks')
    if not tasks:
        raise KeyError('generalist_vs_specialists: the reference config has no train_cfg.tasks')
    weights = {k: (v or {}).get('sampling_weight', 1.0) for k, v in tasks.items()}
    total = sum(weights.values())
    return {k: cfg.train_cfg.max_iters * w / total for k, w in weights.items()}


def row_iterations(row: Row, shares: Dict[str, float], pre_iters: int, scale: float) -> int:
    """Iterations of ``row``'s own run: the sum of its budget shares, times ``scale``.

    Args:
        row (Row): the row.
        shares (dict): :func:`generalist_shares` of the reference.
        pre_iters (int): iterations of the reference's pre-stage (0 without one), unscaled.
        scale (float): ``--budget-scale``.
    """
    total = 0.0
    for entry in row.budget:
        if entry == PRE_STAGE:
            total += pre_iters
        elif entry in shares:
            total += shares[entry]
        else:
            raise KeyError(f'generalist_vs_specialists: row {row.name!r} budget entry {entry!r} '
                           f'is neither {PRE_STAGE!r} nor a task of {REFERENCE} '
                           f'(train_cfg.tasks: {sorted(shares)})')
    return max(2, int(round(total * scale)))


# ------------------------------------------------------------------------- config of one run
@functools.lru_cache(maxsize=None)
def optimizer_signature(config: str, options: str = '{}') -> Dict:
    """Optimizer wrapper, optimizer and base lr that ``config`` + ``options`` (JSON) resolve to."""
    cfg = load_config(config)
    cfg.merge_from_dict(json.loads(options))
    wrapper = cfg.optim_wrapper
    return dict(wrapper=wrapper.get('type', 'OptimWrapper'), type=wrapper.optimizer.type,
                lr=wrapper.optimizer.lr)


def keep_tasks(cfg, tasks: Sequence[str]) -> None:
    """Drop every task of a multi-task config but ``tasks`` (model, loop, loaders, evaluators)."""
    known = set(cfg.train_cfg.get('tasks') or {})
    missing = set(tasks) - known
    if missing:
        raise KeyError(f'generalist_vs_specialists: tasks {sorted(missing)} are not in '
                       f'train_cfg.tasks ({sorted(known)})')
    for holder in (cfg.train_cfg.tasks, cfg.model.tasks, cfg.get('train_dataloader'),
                   cfg.get('val_dataloader'), cfg.get('test_dataloader'),
                   cfg.get('val_evaluator'), cfg.get('test_evaluator')):
        if holder is None:
            continue
        for name in [k for k in holder if k in known and k not in tasks]:
            del holder[name]


def set_iterations(cfg, iters: int, checkpoint: bool = True) -> None:
    """``train_cfg.max_iters = iters``; validation and (``checkpoint``) the one kept checkpoint
    at the end, else none; ``param_scheduler`` begins / ends / milestones scaled by
    ``iters / max_iters``."""
    old = cfg.train_cfg.max_iters
    factor = iters / old
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    schedulers = cfg.get('param_scheduler') or []
    for sched in schedulers if isinstance(schedulers, list) else [schedulers]:
        if sched.get('by_epoch', True):
            raise ValueError(f'generalist_vs_specialists: {sched.get("type")} in param_scheduler '
                             'is by epoch; the grid scales iteration schedules only')
        begin = min(iters - 1, int(round(sched.get('begin', 0) * factor)))
        end = min(iters, int(round(sched.get('end', old) * factor)))
        sched.begin, sched.end = begin, max(end, begin + 1)
        if 'milestones' in sched:
            sched.milestones = [max(1, int(round(m * factor))) for m in sched.milestones]
    hooks = cfg.default_hooks
    if checkpoint:
        hooks.checkpoint.update(interval=iters, max_keep_ckpts=1, by_epoch=False)
    else:  # interval past the end, no last one
        hooks.checkpoint.update(interval=iters + 1, save_last=False, by_epoch=False)
    hooks.logger.interval = min(hooks.logger.get('interval', 50), iters)


def run_config(config: str, options: Dict, tasks: Optional[Sequence[str]], iters: int, seed: int,
               start: Optional[Dict] = None, validate: bool = True, checkpoint: bool = True):
    """The config of one run: ``config`` + ``options``, only ``tasks``, ``iters`` iterations,
    ``randomness.seed = seed``; ``start``: the overrides of :meth:`Stage.hand_off`;
    ``validate=False``: no validation (a pre-stage only hands on its checkpoint);
    ``checkpoint=False``: no checkpoint (see :func:`set_iterations`)."""
    cfg = load_config(config)
    if options:
        cfg.merge_from_dict(dict(options))
    if tasks is not None:
        keep_tasks(cfg, tasks)
    set_iterations(cfg, iters, checkpoint)
    cfg.merge_from_dict({'randomness.seed': seed})
    if start:
        cfg.merge_from_dict(start)
    if not validate:
        cfg.merge_from_dict(dict(val_cfg=None, val_dataloader=None, val_evaluator=None))
    return cfg


def task_iterations(cfg, iters: int, seed: int) -> Dict[str, float]:
    """Iterations of each task in a run: the draws of rank 0 for ``MultiTaskTrainLoop``
    (expected counts under mixed sampling), all of them otherwise."""
    tasks = cfg.train_cfg.get('tasks')
    if not tasks:
        return {'all': iters}
    from uniperceiver_v2.engine.task_sampler import build_task_sampler
    sampler = build_task_sampler(tasks, seed=seed, sampling=cfg.train_cfg.get('sampling',
                                                                              'unmixed'))
    return {TASK_NAMES.get(k, k): v for k, v in sampler.counts(iters).items()}


# ------------------------------------------------------------------------------------ running
def threads_per_rank(ranks: int) -> int:
    """Torch threads of each rank: ``OMP_NUM_THREADS`` if set, else the machine's cores shared
    out among the ranks."""
    return int(os.environ.get('OMP_NUM_THREADS') or max(1, (os.cpu_count() or 1) // ranks))


def train_env(ranks: int) -> Dict[str, str]:
    """The environment of a run: :func:`threads_per_rank`, ``PORT`` free for several ranks."""
    env = dict(os.environ, PYTHON=sys.executable)
    env['OMP_NUM_THREADS'] = str(threads_per_rank(ranks))
    env['PYTHONPATH'] = os.pathsep.join([ROOT, env.get('PYTHONPATH', '')])  # experiments.*
    if ranks > 1:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            env['PORT'] = str(s.getsockname()[1])
    return env


def write_run_config(cfg, base: str, path: str) -> None:
    """``cfg`` as a config that inherits ``base`` and replaces the top-level keys that differ.

    (``Config.dump`` sorts dict keys, and the order of ``train_cfg.tasks`` is the order of the
    task sampler's intervals: the dumped generalist would draw another task sequence.)
    """
    old = load_config(base).to_dict()
    lines = [f'_base_ = [{osp.join(ROOT, base)!r}]']
    for key, value in cfg.to_dict().items():
        if key in old and old[key] == value:
            continue
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            value = dict(_delete_=True, **value)
        lines.append(f'{key} = {value!r}')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def run_command(cmd: List[str], cwd: str, env: Dict[str, str], log_path: str,
                timeout: Optional[float] = None) -> None:
    """Run ``cmd`` in a process group of its own, output into ``log_path``; raise if it fails or is
    still running after ``timeout`` seconds (then its whole process group - launcher, ranks,
    data workers - is killed)."""
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f'{" ".join(cmd)} still running after {timeout:.0f} s '
                               f'(--run-timeout), killed (log: {log_path})')
    if returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} exited {returncode} (log: {log_path}):\n{tail}')


def train(cfg, base: str, work_dir: str, ranks: int, cwd: str,
          timeout: Optional[float] = None) -> float:
    """Train ``cfg`` (written into ``work_dir`` as a child of ``base``) with ``tools/train.py``
    or, for several ranks, ``tools/dist_train.sh``; returns the command's wall-clock seconds."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'run_config.py')
    write_run_config(cfg, base, path)
    if ranks > 1:
        cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), path, str(ranks)]
    else:
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), path]
    t0 = time.perf_counter()
    run_command(cmd + ['--work-dir', work_dir], cwd, train_env(ranks),
                osp.join(work_dir, 'train.out'), timeout)
    return time.perf_counter() - t0


def read_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation results of the newest run in ``work_dir``, as :data:`METRICS`."""
    stamps = sorted(d for d in os.listdir(work_dir)
                    if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not stamps:
        raise FileNotFoundError(f'generalist_vs_specialists: no */vis_data/scalars.json in '
                                f'{work_dir}')
    out: Dict[str, float] = {}
    with open(osp.join(work_dir, stamps[-1], 'vis_data', 'scalars.json')) as f:
        for line in f:
            scalars = json.loads(line)
            found = {}
            for name, (_, pattern, factor) in METRICS.items():
                for key, value in scalars.items():
                    if re.search(pattern, key):
                        found[name] = float(value) * factor
            if found:
                out = found
    return out


def final_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


class Grid:
    """Runs rows and keeps every result in one JSON file (the cache).

    Args:
        out (str): output path without extension (``.json``, ``.md``, ``.png`` are written).
        work_root (str): folder of the runs' work dirs.
        cwd (str): folder the runs start in (its ``data/synthetic`` is the data).
        scale (float): ``--budget-scale``.
        pre_stage (Stage, optional): the embedded default's pre-stage.
        keep_checkpoints (bool): the rows' runs save their final checkpoint (pre-stages always
            do).
        run_timeout (float, optional): seconds after which a run is killed and fails.
    """

    def __init__(self, out: str, work_root: str, cwd: str, scale: float,
                 pre_stage: Optional[Stage], keep_checkpoints: bool = False,
                 run_timeout: Optional[float] = None) -> None:
        self.out, self.work_root, self.cwd, self.scale = out, work_root, cwd, scale
        self.keep_checkpoints, self.run_timeout = keep_checkpoints, run_timeout
        self.pre_stage = pre_stage
        reference = load_config(REFERENCE)
        self.shares = generalist_shares(reference)
        self.pre_iters = 0
        if pre_stage is not None:
            self.pre_iters = load_config(pre_stage.config).train_cfg.max_iters
        self.batch = {t: reference.train_dataloader[t].batch_size for t in self.shares}
        self.results = dict(runs={}, pre_stages={})
        if osp.isfile(out + '.json'):
            with open(out + '.json') as f:
                old = json.load(f)
            self.results.update(runs=old.get('runs', {}), pre_stages=old.get('pre_stages', {}))

    def reference(self) -> dict:
        """The generalist's budget: expected iterations and batch size per task, pre-stage."""
        return dict(config=REFERENCE, task_iterations=self.shares, batch_size=self.batch,
                    pre_stage=asdict(self.pre_stage) if self.pre_stage else None,
                    pre_stage_iterations=self.pre_iters, budget_scale=self.scale)

    def save(self) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.out)), exist_ok=True)
        data = dict(reference=self.reference(), **self.results)
        with open(self.out + '.json', 'w') as f:
            json.dump(data, f, indent=1)

    def signature(self, row: Row) -> dict:
        """What a cached run of ``row`` must match to be reused (and shown): its settings and
        the optimizer its config resolves to, so that a run cached before a config's optimizer
        changed is not shown as the new config's."""
        pre = self.pre_stage if row.pre_stage else None
        signature = dict(config=row.config, options=row.options, tasks=row.tasks,
                         iterations=row_iterations(row, self.shares, self.pre_iters, self.scale),
                         ranks=row.ranks, pre_stage=pre.key() if pre else None,
                         optimizer=optimizer_signature(row.config, json.dumps(row.options)))
        return json.loads(json.dumps(signature))  # as the JSON cache holds it

    def finished(self, row: Row) -> List[dict]:
        """The cached runs of ``row`` under the current settings, by seed."""
        runs = [r for k, r in self.results['runs'].items() if k.startswith(row.name + '/')
                and r.get('signature') == self.signature(row)]
        return sorted(runs, key=lambda r: r['seed'])

    def run_pre_stage(self, seed: int) -> dict:
        """The pre-stage of ``seed`` (cached while its checkpoint exists)."""
        stage = self.pre_stage
        iters = max(2, int(round(self.pre_iters * self.scale)))
        key = f'{stage.key()}|seed={seed}|iters={iters}'
        cached = self.results['pre_stages'].get(key)
        if cached and osp.isfile(cached['checkpoint']):
            return cached
        work_dir = osp.join(self.work_root, f'pre_stage_{osp.splitext(osp.basename(stage.config))[0]}'
                            f'_seed{seed}')
        cfg = run_config(stage.config, stage.options, None, iters, seed, validate=False)
        wall = train(cfg, stage.config, work_dir, 1, self.cwd, timeout=self.run_timeout)
        record = dict(checkpoint=final_checkpoint(work_dir), iterations=iters, wall_s=wall,
                      work_dir=work_dir)
        self.results['pre_stages'][key] = record
        self.save()
        return record

    def run(self, row: Row, seed: int) -> dict:
        """Train ``row`` with ``seed`` unless the cache holds the same run."""
        if row.pre_stage and PRE_STAGE in row.budget:
            raise ValueError(f'row {row.name}: a row that runs the pre-stage cannot also get its '
                             'iterations as budget')
        iters = row_iterations(row, self.shares, self.pre_iters, self.scale)
        pre = self.pre_stage if row.pre_stage else None
        key = f'{row.name}/seed{seed}'
        cached = self.results['runs'].get(key)
        if cached and cached.get('signature') == self.signature(row):
            print(f'[{key}] cached')
            return cached
        pre_record = self.run_pre_stage(seed) if pre else None
        start = pre.hand_off(pre_record['checkpoint']) if pre else None
        cfg = run_config(row.config, row.options, row.tasks, iters, seed, start,
                         checkpoint=self.keep_checkpoints)
        work_dir = osp.join(self.work_root, row.name, f'seed{seed}')
        print(f'[{key}] {iters} iterations on {row.ranks} rank(s) -> {work_dir}', flush=True)
        wall = train(cfg, row.config, work_dir, row.ranks, self.cwd, timeout=self.run_timeout)
        record = dict(row=row.name, group=row.group, label=row.label, seed=seed,
                      signature=self.signature(row), iterations=iters,
                      task_iterations=task_iterations(cfg, iters, seed),
                      pre_stage_iterations=pre_record['iterations'] if pre_record else 0,
                      own_wall_s=wall, pre_stage_wall_s=pre_record['wall_s'] if pre_record else 0,
                      wall_s=wall + (pre_record['wall_s'] if pre_record else 0),
                      ranks=row.ranks,
                      threads_per_rank=threads_per_rank(row.ranks),
                      metrics=read_metrics(work_dir), work_dir=work_dir)
        self.results['runs'][key] = record
        self.save()
        print(f'[{key}] {record["wall_s"]:.0f} s: {record["metrics"]}', flush=True)
        return record


# ------------------------------------------------------------------------------------- report
def summarise(runs: List[dict]) -> Dict[str, Tuple[float, float, int]]:
    """Per metric: mean, sample standard deviation (0 with one seed) and the number of seeds."""
    out = {}
    for name in METRICS:
        values = [r['metrics'][name] for r in runs if name in r['metrics']]
        if values:
            mean = sum(values) / len(values)
            sd = math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1)) \
                if len(values) > 1 else 0.0
            out[name] = (mean, sd, len(values))
    return out


def fmt(mean: float, sd: float, n: int) -> str:
    return f'{mean:.1f} ± {sd:.1f}' if n > 1 else f'{mean:.1f}'


def write_table(report: List[Tuple[Row, List[dict]]], reference: dict, out: str,
                command: str) -> None:
    """``out.md``: one line per row, mean ± s.d. over seeds.

    Args:
        report (list): ``(row, its finished runs)`` in grid order.
        reference (dict): the ``reference`` entry of the JSON.
        out (str): output path without extension.
        command (str): the command line, quoted in the text.
    """
    tasks = reference['task_iterations']
    lines = [
        '# Generalist vs specialists on the embedded synthetic data (paper Tab. 3 and Tab. 4)',
        '', f'Written by `{command}`; every run is in `{osp.basename(out)}.json`.', '',
        f'Reference: `{reference["config"]}`, expected iterations per task '
        + ', '.join(f'{TASK_NAMES.get(k, k)} {v:.0f}' for k, v in tasks.items())
        + ' (batch ' + ', '.join(f'{TASK_NAMES.get(k, k)} {v}'
                                 for k, v in reference['batch_size'].items()) + ')'
        + (f', after a pre-stage of {reference["pre_stage_iterations"]} iterations '
           f'(`{reference["pre_stage"]["config"]}`)' if reference['pre_stage'] else '')
        + f'; budget scale {reference["budget_scale"]}. Each row trains its tasks for those '
        'iterations (times the scale) at those batch sizes per rank (the Tab. 4 rows run 2 '
        'ranks: twice the images). Values: mean ± sample s.d. over the seeds; wall-clock: the '
        'whole command (start-up, training, validation; pre-stage included) and each task\'s '
        'iterations (its draws), mean over seeds.',
        '', '| group | row | ranks | iterations (per task) | wall-clock | seeds | '
        + ' | '.join(v[0] for v in METRICS.values()) + ' |',
        '|---|---|---:|---|---:|---|' + '---:|' * len(METRICS)]
    for row, runs in report:
        stats = summarise(runs)
        first = runs[0]
        iters = f'{first["iterations"]}'
        if 'all' not in first['task_iterations']:  # the draws differ by seed: their mean
            iters += ' (' + ', '.join(
                f'{k} {sum(r["task_iterations"][k] for r in runs) / len(runs):.0f}'
                for k in first['task_iterations']) + ')'
        if first['pre_stage_iterations']:
            iters += f' + {first["pre_stage_iterations"]} pre-stage'
        wall = sum(r['wall_s'] for r in runs) / len(runs)
        seeds = ','.join(str(r['seed']) for r in runs)
        cells = [fmt(*stats[m]) if m in stats else '-' for m in METRICS]
        lines.append(f'| {row.group} | {row.label} | {row.ranks} | {iters} | {wall / 60:.1f} min '
                     f'| {seeds} | ' + ' | '.join(cells) + ' |')
    with open(out + '.md', 'w') as f:
        f.write('\n'.join(lines) + '\n')


def write_plot(report: List[Tuple[Row, List[dict]]], out: str) -> None:
    """``out.png``: one panel per metric, one bar per row (error bar: s.d. over seeds)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    stats = [(row, summarise(runs)) for row, runs in report]
    groups = list(dict.fromkeys(row.group for row, _ in stats))
    colours = {g: plt.get_cmap('tab10')(i) for i, g in enumerate(groups)}
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 0.35 * len(stats) + 2),
                             sharey=True)
    labels = [f'{row.label} ({row.group})' for row, _ in stats]
    for ax, (name, (title, _, _)) in zip(axes, METRICS.items()):
        for y, (row, s) in enumerate(stats):
            if name in s:
                mean, sd, _ = s[name]
                ax.barh(y, mean, xerr=sd or None, color=colours[row.group], capsize=2)
                ax.text(mean + sd, y, f' {mean:.1f}', va='center', fontsize=7)
        ax.set_title(title)
        ax.set_xlim(0, max([1.0] + [(s[name][0] + s[name][1]) * 1.2 for _, s in stats
                                     if name in s]))
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out + '.png', dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    names = [r.name for r in default_rows()]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rows', nargs='+', choices=names, default=names, metavar='ROW',
                        help=f'rows to run (default: all): {" ".join(names)}')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    parser.add_argument('--budget-scale', type=float, default=1.0,
                        help='multiply every row\'s iterations (pre-stages included)')
    parser.add_argument('--out', default=osp.join(ROOT, 'experiments', 'generalist_vs_specialists', 'results'),
                        help='output path without extension (.json cache, .md table, .png plot)')
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'generalist_vs_specialists'),
                        help='where the runs\' work dirs go')
    parser.add_argument('--data-cwd', default=ROOT,
                        help='folder the runs start in; its data/synthetic is the data')
    parser.add_argument('--run-timeout', type=float, default=3 * 3600,
                        help='seconds after which a run (its whole process group) is killed and '
                        'counted as failed; the grid goes on with the next run')
    parser.add_argument('--keep-checkpoints', action='store_true',
                        help='save each row\'s final checkpoint (default: only the pre-stages\')')
    parser.add_argument('--pre-stage', default=None, metavar='CONFIG',
                        help='the embedded default\'s pre-stage config instead of '
                        'EMBEDDED_PRE_STAGE\'s (same hand-off), or "none": no pre-stage')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    pre = EMBEDDED_PRE_STAGE
    if args.pre_stage == 'none':
        pre = None
    elif args.pre_stage:
        pre = Stage(args.pre_stage, into=EMBEDDED_PRE_STAGE.into if EMBEDDED_PRE_STAGE else
                    'load_from')
    if not osp.isdir(osp.join(args.data_cwd, 'data', 'synthetic')):
        raise SystemExit(f'{args.data_cwd}/data/synthetic not found: run '
                         'python tools/data/generate_synthetic.py first')
    grid = Grid(args.out, args.work_dir, args.data_cwd, args.budget_scale, pre,
                args.keep_checkpoints, args.run_timeout)
    failed = []
    for row in [r for r in default_rows() if r.name in args.rows]:
        for seed in args.seeds:
            try:
                grid.run(row, seed)
            except RuntimeError as err:  # a failed run: the other rows still run
                print(f'[{row.name}/seed{seed}] FAILED: {err}', flush=True)
                failed.append(f'{row.name}/seed{seed}')
    report = [(row, grid.finished(row)) for row in default_rows() if grid.finished(row)]
    # the commands that give this table from nothing (the cache may hold several invocations')
    seeds = {row.name: {r['seed'] for r in runs} for row, runs in report}
    every = sorted(set.intersection(*seeds.values())) if seeds else []
    base = 'python experiments/generalist_vs_specialists/generalist_vs_specialists.py'
    commands = [f'{base} --seeds {" ".join(map(str, every))} --budget-scale {args.budget_scale:g}']
    for seed in sorted(set().union(*seeds.values()) - set(every)) if seeds else []:
        commands.append(f'{base} --rows {" ".join(n for n in seeds if seed in seeds[n])} --seeds '
                        f'{seed} --budget-scale {args.budget_scale:g}')
    command = '` then `'.join(commands)
    grid.save()
    write_table(report, grid.reference(), args.out, command)
    write_plot(report, args.out)
    print(f'wrote {args.out}.md, .json, .png')
    if failed:
        raise SystemExit(f'failed runs (logs: train.out in their work dirs): {failed}')
    return grid.results


if __name__ == '__main__':
    main()
