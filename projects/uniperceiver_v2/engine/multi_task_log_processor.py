"""Readable multi-task log lines: each task's losses once, under the task's name.

The multi-task train loop hands the hooks every loss once, as ``<task>/<name>`` (``syn_det/loss``,
``syn_det/proposal.d0.loss_cls``, ``syn_cap/loss_caption``), and mmengine's ``RuntimeInfoHook``
keeps one history buffer per key.  A task's buffers are only updated in the iterations that train
that task, so their window means never mix tasks.  mmengine's ``LogProcessor`` would print every
buffer (about 3,000 characters per line with a Mask DINO proposal network); this one prints::

    Iter(train) [  20/2800]  lr: 5.0000e-04  eta: 0:09:46  time: 0.2110  data_time: 0.0050
    grad_norm: 31.2000  | syn_det: loss 4.3210 loss_det_cls 1.2346 det_acc 0.2500 prop 0.6173 ...

(one line).  Per task: the total ``loss`` first, then the other terms; terms under a prefix of
``loss_groups`` are summed into the group's totals (the shipped configs,
``configs/_base_/multi_task_runtime.py``, sum the proposal network's ``proposal.*`` terms into
``prop`` (final decoder layer, matching queries), ``aux`` (intermediate decoder layers,
``d<i>.loss_*``), ``enc`` (two-stage encoder queries, ``enc_loss_*``) and ``dn`` (denoising
queries, ``dn_loss_*`` of every layer)) - and a term that equals the task total (a single-loss
task) is not repeated.  ``grad_norm`` is one buffer shared
by all tasks (TBGN logs the norm of the task that just trained), so it is shown unsmoothed: the
last iteration's value.  ``time`` / ``data_time`` are run-level averages
(they drive the ETA).  The scalars written to the JSON log and the visualizer backends are
mmengine's, untouched: every individual term, each smoothed within its own task.

After validation / testing all tasks' metrics are printed as one table (task, metric, value).
Keys without a ``/`` (single-task runs) are listed under the task ``-``.
"""
import datetime
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Pattern, Tuple

from mmengine.registry import LOG_PROCESSORS
from mmengine.runner import LogProcessor

NO_TASK = '-'

#: prefix -> [(total name, pattern of the term names after the prefix it sums), ...]
LossGroups = List[Tuple[str, List[Tuple[str, Pattern]]]]


def compile_loss_groups(loss_groups: Optional[Mapping[str, Mapping[str, str]]]) -> LossGroups:
    """Check and compile ``log_processor.loss_groups``.

    Args:
        loss_groups (Mapping[str, Mapping[str, str]], optional): term-name prefix -> ordered
            ``{total name: regular expression}``; a term ``<prefix><name>`` is added to the first
            total whose expression matches ``<name>``.  None: no grouping.

    Returns:
        list: ``[(prefix, [(total, compiled pattern), ...]), ...]``.
    """
    compiled: LossGroups = []
    for prefix, totals in (loss_groups or {}).items():
        if not isinstance(prefix, str) or not prefix or not isinstance(totals, Mapping):
            raise TypeError('log_processor.loss_groups must map a loss-name prefix (str) to a '
                            f'dict total name -> regular expression, got {prefix!r}: {totals!r}')
        patterns = []
        for total, pattern in totals.items():
            try:
                patterns.append((str(total), re.compile(pattern)))
            except (re.error, TypeError) as error:
                raise ValueError(f'log_processor.loss_groups[{prefix!r}].{total}: invalid '
                                 f'regular expression {pattern!r} ({error})') from error
        compiled.append((prefix, patterns))
    return compiled


def split_task(key: str) -> Tuple[str, str]:
    """``'syn_det/loss_det_cls'`` -> ``('syn_det', 'loss_det_cls')``; ``'loss'`` -> ``('-',
    'loss')``."""
    task, sep, name = key.partition('/')
    return (task, name) if sep else (NO_TASK, key)


def summarise_task(terms: Dict[str, float],
                   loss_groups: LossGroups = ()) -> 'OrderedDict[str, float]':
    """The values one task shows: ``loss`` first, its own terms, then the group totals.

    Args:
        terms (dict[str, float]): term name (without the task prefix) -> value.
        loss_groups (list): :func:`compile_loss_groups` of ``log_processor.loss_groups``.

    Returns:
        OrderedDict[str, float]: display name -> value.  A term under a group's prefix is summed
        into the first of the group's totals whose pattern matches it; one matching none is shown
        under its name without the prefix.  A term equal to the task's ``loss`` when it is the
        task's only loss term (and nothing is grouped) is dropped (it would repeat the total).
    """
    def group_of(name: str):
        return next(((prefix, totals) for prefix, totals in loss_groups
                     if name.startswith(prefix)), None)

    shown: 'OrderedDict[str, float]' = OrderedDict()
    if 'loss' in terms:
        shown['loss'] = terms['loss']
    sums: Dict[str, float] = {}
    own_losses = [n for n in terms if n != 'loss' and 'loss' in n and group_of(n) is None]
    has_group = any(group_of(n) is not None for n in terms)
    for name, value in terms.items():
        if name == 'loss':
            continue
        group = group_of(name)
        if group is not None:
            prefix, totals = group
            short = name[len(prefix):]
            total = next((t for t, pattern in totals if pattern.match(short)), None)
            if total is not None:
                sums[total] = sums.get(total, 0.0) + value
            else:
                shown[short] = value
            continue
        if 'loss' in shown and own_losses == [name] and not has_group:
            continue  # the only loss term: equal to the task total
        shown[name] = value
    shown.update((t, sums[t]) for _, totals in loss_groups for t, _ in totals if t in sums)
    return shown


@LOG_PROCESSORS.register_module()
class MultiTaskLogProcessor(LogProcessor):
    """``LogProcessor`` whose training line groups the losses by task (see the module docstring).

    Args:
        window_size (int): smoothing window (iterations of the same task). Defaults to 10.
        by_epoch (bool): epoch-style headers. Defaults to False (the multi-task loops count
            iterations).
        mean_pattern (str): keys smoothed over the window.  Defaults to losses, accuracies,
            ``time`` and ``data_time``; ``grad_norm`` is not smoothed (shared by the tasks).
        loss_groups (dict, optional): term-name prefix -> ordered ``{total name: regular
            expression}``: the terms ``<prefix><name>`` of a task are shown as the sums of the
            first total whose expression matches ``<name>`` (see :func:`summarise_task`).  None:
            every term shown.  The shipped configs group the proposal network's terms
            (``configs/_base_/multi_task_runtime.py``).
        **kwargs: other :class:`mmengine.runner.LogProcessor` arguments (``custom_cfg``,
            ``num_digits``, ``log_with_hierarchy``).
    """

    def __init__(self, window_size: int = 10, by_epoch: bool = False,
                 mean_pattern: str = r'.*(loss|acc|time|data_time).*',
                 loss_groups: Optional[Mapping[str, Mapping[str, str]]] = None, **kwargs) -> None:
        super().__init__(window_size=window_size, by_epoch=by_epoch, mean_pattern=mean_pattern,
                         **kwargs)
        self.loss_groups = compile_loss_groups(loss_groups)

    # ------------------------------------------------------------------ training
    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> Tuple[dict, str]:
        """mmengine's tag (every term, for the JSON log) and a short line grouped by task."""
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        if mode != 'train':
            return tag, log_str
        scalars = {self._remove_prefix(k, f'{mode}/'): v for k, v in tag.items()}
        return tag, self.format_train_line(self._train_header(runner, batch_idx), scalars,
                                           runner.message_hub.get_info('eta'))

    def _train_header(self, runner, batch_idx: int) -> str:
        """``Iter(train) [ 20/2800]`` or ``Epoch(train) [3][ 20/500]``."""
        cur_iter = self._get_iter(runner, batch_idx)
        if self.by_epoch:
            total = self._get_dataloader_size(runner, 'train')
            return (f'Epoch(train) [{self._get_epoch(runner, "train")}]'
                    f'[{str(cur_iter).rjust(len(str(total)))}/{total}]')
        return f'Iter(train) [{str(cur_iter).rjust(len(str(runner.max_iters)))}/{runner.max_iters}]'

    def format_train_line(self, header: str, scalars: Dict[str, object],
                          eta: Optional[float] = None) -> str:
        """The training log line.

        Args:
            header (str): e.g. ``'Iter(train) [ 20/2800]'``.
            scalars (dict): key (without ``train/``) -> value, as in mmengine's tag.
            eta (float, optional): seconds left.

        Returns:
            str: one line.
        """
        d = self.num_digits
        parts: List[str] = [header]
        rest = dict(scalars)
        for key in [k for k in rest if k.endswith('lr')]:
            parts.append(f'{key}: {rest.pop(key):.{d}e}')
        if eta is not None and 'time' in rest:
            parts.append(f'eta: {datetime.timedelta(seconds=int(eta))}')
        for key in ('time', 'data_time', 'memory'):
            if key in rest:
                value = rest.pop(key)
                parts.append(f'{key}: {value:.{d}f}' if isinstance(value, float) else
                             f'{key}: {value}')
        rest.pop('iter', None)
        rest.pop('epoch', None)
        if 'grad_norm' in rest:  # not smoothed: the last iteration's task only
            parts.append(f'grad_norm: {rest.pop("grad_norm"):.{d}f}')
        groups: 'OrderedDict[str, Dict[str, float]]' = OrderedDict()
        for key, value in rest.items():
            if isinstance(value, (int, float)):
                task, name = split_task(key)
                groups.setdefault(task, OrderedDict())[name] = float(value)
        line = '  '.join(parts)
        for task, terms in groups.items():
            shown = ' '.join(f'{n} {self._number(v)}' for n, v in summarise_task(terms, self.loss_groups).items())
            line += f'  | {task}: {shown}'
        return line

    def _number(self, value: float) -> str:
        """``num_digits`` decimals, or significant digits for very large / small values."""
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10**-self.num_digits):
            return f'{value:.{self.num_digits}g}'
        return f'{value:.{self.num_digits}f}'

    # ------------------------------------------------------------------ validation / test
    def get_log_after_epoch(self, runner, batch_idx: int, mode: str,
                            with_non_scalar: bool = False) -> Tuple[dict, str]:
        """mmengine's tag and line, followed by one table of all tasks' metrics."""
        tag, log_str = super().get_log_after_epoch(runner, batch_idx, mode, with_non_scalar)
        table = self.metrics_table({self._remove_prefix(k, f'{mode}/'): v
                                    for k, v in tag.items()})
        return tag, f'{log_str}\n{table}' if table else log_str

    def metrics_table(self, metrics: Dict[str, object]) -> str:
        """All tasks' scalar metrics as one aligned table (``time`` / ``data_time`` left out).

        Args:
            metrics (dict): ``<task>/<metric>`` (or ``<metric>``) -> value.

        Returns:
            str: the table, ``''`` without scalar metrics.
        """
        by_task: 'OrderedDict[str, List[Tuple[str, str]]]' = OrderedDict()
        for key, value in metrics.items():
            if key in ('time', 'data_time', 'iter', 'epoch', 'memory'):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            task, name = split_task(key)
            by_task.setdefault(task, []).append((name, self._number(float(value))))
        rows = [(task, name, value) for task, items in by_task.items() for name, value in items]
        if not rows:
            return ''
        head = ('task', 'metric', 'value')
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(3)]
        lines = [f'{head[0]:<{widths[0]}}  {head[1]:<{widths[1]}}  {head[2]:>{widths[2]}}',
                 '-' * (sum(widths) + 4)]
        previous = None
        for task, name, value in rows:
            shown = task if task != previous else ''
            previous = task
            lines.append(f'{shown:<{widths[0]}}  {name:<{widths[1]}}  {value:>{widths[2]}}')
        return '\n'.join(lines)
