r"""Task-Balanced Gradient Normalization (TBGN, paper §4) as a plain PyTorch optimizer.

When task :math:`k`, drawn with probability :math:`s_k` and weighted :math:`ω_k`, is trained::

    g   = ω_k · ∇L_k / ‖∇L_k‖₂                    (TBGN-1)  one global L2 norm, all parameters
    m_t = β1·m + (1-β1)/s_k · g                    (TBGN-2)  the paper writes (1-β)·m + β/s_k·g,
    n_t = β2·n + (1-β2)/s_k · g²                   (TBGN-3)  its β weighting the new gradient
    θ  ← θ·(1 - α·λ) - α · m̂_t / (sqrt(n̂_t) + ε)   (TBGN-4)  m̂ = m_t/(1-β1^t), n̂ = n_t/(1-β2^t)

i.e. AdamW (decoupled weight decay λ, bias correction with each parameter's own step count t) fed
with the normalised task gradient, its moments compensated by :math:`1/s_k` so that, in
expectation over the task draws, every task contributes :math:`ω_k` times its unit-norm gradient.
Normalising cancels any whole-task loss weight, so :math:`ω_k` is the task weight.

This file depends on ``torch`` only (copy it into any codebase); ``TBGNOptimWrapper`` is the
MMEngine shell around it.
"""
import logging
import math
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import Tensor
from torch.optim import Optimizer

try:  # sharded gradients of FSDP2 / tensor parallelism
    from torch.distributed.tensor import DTensor
except ImportError:  # torch built without distributed support
    DTensor = ()

logger = logging.getLogger(__name__)

#: a float32 sum of squares outside this range has over- or underflowed (or lost its precision
#: to subnormals); the norm is then recomputed in float64
_FP32_SAFE_SQ = (1e-30, 1e30)
#: Python scalars of ``torch._foreach_*`` ops are applied in float32 for float32/bf16/fp16 tensors
_FP32_RANGE = (2.0**-126, 2.0**127)
#: ω/‖∇L‖ and ‖∇L‖ for which c·∇L, c²·∇L² stay in float32's range when c is applied as the
#: ops' scalar factor; outside them g = c·∇L is materialised first
_SCALAR_C_RANGE, _SCALAR_NORM_MAX = (1e-12, 1e12), 1e15


def task_table(table: Optional[Mapping[str, float]], key: str,
               normalise: bool = False) -> Optional[Dict[str, float]]:
    """Check a task -> weight table (finite, >= 0) and optionally normalise it to sum 1.

    Args:
        table (Mapping[str, float], optional): the table; ``None`` passes through.
        key (str): the table's name in error messages (e.g. a config key).
        normalise (bool): divide by the sum (sampling weights -> probabilities s_k).

    Returns:
        dict[str, float] | None: the checked (normalised) table.
    """
    if table is None:
        return None
    if not isinstance(table, Mapping) or not table:
        raise TypeError(f'{key} must be a non-empty dict task -> weight, got {table!r}')
    out = {}
    for task, weight in table.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not math.isfinite(weight) or weight < 0:
            raise ValueError(f'{key}.{task} must be a finite number >= 0, got {weight!r}')
        out[str(task)] = float(weight)
    if normalise:
        total = sum(out.values())
        if total <= 0:
            raise ValueError(f'{key}: all weights are 0')
        out = {task: weight / total for task, weight in out.items()}
    return out


def _sum_of_squares(grads: Sequence[Tensor], dtype: torch.dtype, device: torch.device) -> Tensor:
    """Σ ∇L² over ``grads`` as a 0-dim ``dtype`` tensor on ``device`` (norms taken in ``dtype``).

    DTensor gradients are reduced over their device mesh (``full_tensor``), so their shards count
    once each and replicas once in all.
    """
    total = torch.zeros((), dtype=dtype, device=device)
    buckets: Dict[tuple, List[Tensor]] = {}
    for grad in grads:
        mesh = grad.device_mesh if isinstance(grad, DTensor) else None
        buckets.setdefault((grad.device, mesh), []).append(grad)
    for (_, mesh), bucket in buckets.items():
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(bucket, 2, dtype=dtype)))
        if mesh is not None:
            norm = norm.full_tensor()
        total += norm.square().to(device)
    return total


def global_grad_norm(grads: Sequence[Tensor], process_group: Optional[object] = None,
                     device: Optional[torch.device] = None) -> float:
    """‖∇L‖₂ over all ``grads`` (TBGN-1), in float32 or wider whatever their dtype.

    The squares are summed in float32 (float64 for float64 gradients); a sum that over- or
    underflowed (gradients beyond ~1e15 or below ~1e-15) is recomputed in float64, so huge or tiny
    finite gradients are normalised exactly.  Inf / NaN gradients give a non-finite norm.
    DTensor gradients (FSDP2 shards) are summed over their device mesh by themselves.

    Args:
        grads (Sequence[Tensor]): this rank's gradients (any devices and floating dtypes).
        process_group (ProcessGroup, optional): the ranks that share plain-tensor gradients out
            between them (ZeRO-style sharding, each rank holding a disjoint part); the sum of
            squares is all-reduced over it.  ``None``: the plain gradients are complete on this
            rank (single process, or DDP after its all-reduce).
        device (torch.device, optional): where the sum lives (the collective's device); default
            the first gradient's, or the CPU.

    Returns:
        float: the global norm (inf / NaN when a gradient is not finite).
    """
    if device is None:
        device = grads[0].device if grads else torch.device('cpu')
    dtype = torch.float64 if any(g.dtype == torch.float64 for g in grads) else torch.float32
    for attempt_dtype in (dtype, torch.float64):
        sq = _sum_of_squares(grads, attempt_dtype, device)
        if process_group is not None:
            dist.all_reduce(sq, op=dist.ReduceOp.SUM, group=process_group)
        total = float(sq)  # all ranks see the same value, so they take the same branch
        if attempt_dtype == torch.float64 or _FP32_SAFE_SQ[0] <= total <= _FP32_SAFE_SQ[1]:
            break
    return math.sqrt(total)


def _scaled(grads: List[Tensor], factor: float) -> List[Tensor]:
    """``[factor · g]`` as new tensors (``p.grad`` stays untouched), exact for extreme factors."""
    if not grads:
        return []
    if factor == 0.0 or _FP32_RANGE[0] <= factor <= _FP32_RANGE[1]:
        return list(torch._foreach_mul(grads, factor))
    root = math.sqrt(factor)  # 1/norm outside float32's range: apply it in two halves
    out = list(torch._foreach_mul(grads, root))
    torch._foreach_mul_(out, root)
    return out


class TBGN(Optimizer):
    r"""AdamW with Task-Balanced Gradient Normalization, equations (TBGN-1..4) of this module.

    Each :meth:`step` trains one task: give it the task (with ``task_weights`` /
    ``sampling_probs`` set at construction), or its factors ``omega`` = ω_k and ``s`` = s_k
    directly.  Without either, ω = s = 1: AdamW on the unit-norm gradient.

    The state is exactly :class:`torch.optim.AdamW`'s (``exp_avg`` = m, ``exp_avg_sq`` = n,
    ``step``; moments in the parameter's dtype), and the param groups carry AdamW's ``lr``,
    ``betas``, ``eps``, ``weight_decay``, so a TBGN ``state_dict`` loads into ``AdamW`` and an
    AdamW one into TBGN; the per-task step counts travel as an extra ``'tbgn'`` entry that AdamW
    ignores.

    Details:

    * Parameters the task does not reach (``grad is None``) but which have state count as a zero
      gradient: their moments decay and they keep moving with their momentum (and decay), which
      the expectation above needs.  Parameters that never had a gradient are never touched.
    * The norm is taken in float32 or wider and over all ranks for sharded gradients: DTensor
      (FSDP2) by their device mesh, plain-tensor shards (ZeRO) with ``process_group`` (see
      :func:`global_grad_norm`).  Taking it costs one host synchronisation per step.  With
      several ranks, all must step the same task (unmixed sampling), as ω_k, s_k act on the
      all-reduced gradient.
    * A non-finite norm (inf / NaN gradient) skips the step: parameters, moments and step counts
      stay untouched; :attr:`skipped_steps` counts such steps.  A zero gradient is a zero g.
    * ``p.grad`` is left as it was: the factor ω/‖∇L‖ of g enters the moment updates as a
      scalar (for extreme norms g is first computed in a temporary copy).
    * Written with ``torch._foreach_*`` ops: any device, any floating dtype.
    * Learning rate: because the moments decay through the other tasks' steps, a parameter only
      task k reaches travels about 1/s_k times further than under AdamW at the same ``lr``; with
      several tasks use a smaller ``lr`` than AdamW's (0.3x was best on the embedded data;
      ``experiments/tbgn_step_size/`` measures the ratio).  Under MMEngine the loop hands over
      the sampling shares of ``train_cfg.tasks``; ``sampling_probs`` must then agree with them.

    Example::

        opt = TBGN(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05,
                   task_weights={'cls': 1.0, 'det': 1.0}, sampling_probs={'cls': 1, 'det': 3})
        for task, batch in batches:                # unmixed sampling: one task per step
            loss_fn(task, model, batch).backward()
            opt.step(task=task)
            opt.zero_grad()

    Args:
        params (Iterable): parameters or param-group dicts, as for any torch optimizer.
        lr (float): α.  Default: 1e-3.
        betas (tuple[float, float]): (β1, β2) in torch's convention (β weighs the old moment).
            Default: (0.9, 0.999).
        eps (float): ε.  Default: 1e-8.
        weight_decay (float): λ, decoupled as in AdamW.  Default: 1e-2.
        task_weights (Mapping[str, float], optional): ω_k per task; ``None``: 1 for every task.
        sampling_probs (Mapping[str, float], optional): per-task sampling weights, normalised to
            the probabilities s_k; ``None``: s = 1 unless :meth:`step` is given ``s``.
        process_group (ProcessGroup, optional): ranks among which plain-tensor gradients are
            sharded (ZeRO-style); the squared norm is all-reduced over it.  ``None`` for
            unsharded (DDP) or DTensor (FSDP2) gradients.
        foreach (bool, optional): run the update as multi-tensor ops over all parameters
            (``True``) or tensor by tensor (``False``, faster on CPU, where it keeps each tensor
            in cache); ``None``: ``True`` except for CPU tensors, as torch's AdamW.  Same
            equations, same ops either way.
    """

    def __init__(self,
                 params: Iterable,
                 lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 1e-2,
                 *,
                 task_weights: Optional[Mapping[str, float]] = None,
                 sampling_probs: Optional[Mapping[str, float]] = None,
                 process_group: Optional[object] = None,
                 foreach: Optional[bool] = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f'TBGN: invalid lr {lr}')
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f'TBGN: invalid betas {betas}')
        if not 0.0 <= eps:
            raise ValueError(f'TBGN: invalid eps {eps}')
        if not 0.0 <= weight_decay:
            raise ValueError(f'TBGN: invalid weight_decay {weight_decay}')
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach)
        super().__init__(params, defaults)
        self.task_weights = task_table(task_weights, 'task_weights')
        self.sampling_probs = task_table(sampling_probs, 'sampling_probs', normalise=True)
        self.process_group = process_group
        #: applied steps per task, and steps skipped for a non-finite gradient
        self.task_steps: Dict[str, int] = {}
        self.skipped_steps = 0
        #: ‖∇L‖₂ of the last step (None before the first)
        self.last_grad_norm: Optional[float] = None

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for param_state in self.state.values():  # int steps of older checkpoints -> AdamW's tensor
            if 'step' in param_state and not torch.is_tensor(param_state['step']):
                param_state['step'] = torch.tensor(float(param_state['step']))

    # ------------------------------------------------------------------ task factors
    def task_factors(self, task: Optional[str] = None, omega: Optional[float] = None,
                     s: Optional[float] = None) -> Tuple[float, float]:
        """(ω_k, s_k) for a step: explicit values win, else the tables, else 1.

        Args:
            task (str, optional): the task whose gradient is in ``p.grad``.
            omega (float, optional): ω_k, overriding ``task_weights``.
            s (float, optional): s_k, overriding ``sampling_probs``.
        """
        for name, table, value in (('task_weights', self.task_weights, omega),
                                   ('sampling_probs', self.sampling_probs, s)):
            if value is None and table is not None:
                if task is None:
                    raise ValueError(f'TBGN.step: {name} is set, so step(task=...) needs the task')
                if task not in table:
                    raise KeyError(f"TBGN {name} has no entry for task '{task}' "
                                   f'(has {sorted(table)})')
        omega = float(omega) if omega is not None else (
            self.task_weights[task] if self.task_weights is not None else 1.0)
        s = float(s) if s is not None else (
            self.sampling_probs[task] if self.sampling_probs is not None else 1.0)
        if not (math.isfinite(omega) and omega >= 0):
            raise ValueError(f'TBGN: ω must be a finite number >= 0, got {omega}')
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"TBGN: task '{task}' is trained but its sampling probability s is "
                             f'{s} (must be > 0)')
        return omega, s

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Tensor]] = None, *, task: Optional[str] = None,
             omega: Optional[float] = None, s: Optional[float] = None) -> Optional[Tensor]:
        """One TBGN step on the gradients in ``p.grad``, all of one task.

        Args:
            closure (Callable, optional): re-evaluates the model and returns the loss.
            task (str, optional): the task of the gradients (looked up in the tables, counted in
                :attr:`task_steps`).
            omega (float, optional): ω_k, overriding ``task_weights``.
            s (float, optional): s_k, overriding ``sampling_probs``.

        Returns:
            Tensor | None: the closure's loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        omega, s = self.task_factors(task, omega, s)
        groups = [self._split_group(group) for group in self.param_groups]
        grads = [g for _, group_grads, _ in groups for g in group_grads]
        if not grads and self.process_group is None:
            return loss
        first = next((p for group in self.param_groups for p in group['params']), None)
        norm = global_grad_norm(grads, self.process_group,
                                grads[0].device if grads else getattr(first, 'device', None))
        self.last_grad_norm = norm
        if not math.isfinite(norm):
            self.skipped_steps += 1
            logger.warning('TBGN: non-finite gradient norm (%s) for task %r; step skipped (%d '
                           'skipped so far)', norm, task, self.skipped_steps)
            return loss
        c = omega / norm if norm > 0 else 0.0  # (TBGN-1) g = c·∇L; a zero gradient is a zero g
        # c rides on the scalars of the moment updates (no copy of the gradients) unless c or
        # ∇L² would leave float32's range; then g is materialised
        c_as_scalar = _SCALAR_C_RANGE[0] <= c <= _SCALAR_C_RANGE[1] and norm <= _SCALAR_NORM_MAX
        for group, (with_grad, group_grads, without_grad) in zip(self.param_groups, groups):
            if c_as_scalar:
                self._update_group(group, with_grad, group_grads, c, without_grad, s)
            else:
                self._update_group(group, with_grad, _scaled(group_grads, c), 1.0, without_grad, s)
        if task is not None:
            self.task_steps[task] = self.task_steps.get(task, 0) + 1
        return loss

    def _split_group(self, group: dict) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """(params with grad, their grads, params without grad but with state) of one group."""
        if group.get('amsgrad', False) or group.get('maximize', False):
            raise ValueError('TBGN supports neither amsgrad nor maximize')
        with_grad, grads, without_grad = [], [], []
        for p in group['params']:
            if p.grad is not None:
                if p.grad.is_sparse:
                    raise RuntimeError('TBGN does not support sparse gradients')
                with_grad.append(p)
                grads.append(p.grad)
            elif len(self.state.get(p, ())) > 0:
                without_grad.append(p)
        return with_grad, grads, without_grad

    def _update_group(self, group: dict, with_grad: List[Tensor], grads: List[Tensor], c: float,
                      without_grad: List[Tensor], s: float) -> None:
        """(TBGN-2..4) for one param group with g = c·grads, bucketed by device and dtype."""
        lr, (beta1, beta2) = float(group['lr']), group['betas']
        eps, weight_decay = group['eps'], group['weight_decay']
        buckets: Dict[tuple, Tuple[list, list, list]] = {}
        for p, grad in zip(with_grad + without_grad, grads + [None] * len(without_grad)):
            state = self.state[p]
            if len(state) == 0:
                state['step'] = torch.tensor(0.0)
                state['exp_avg'] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state['exp_avg_sq'] = torch.zeros_like(p, memory_format=torch.preserve_format)
            bucket = buckets.setdefault((p.device, p.dtype), ([], [], []))
            bucket[0].append(p)
            bucket[1].append(state)
            if grad is not None:
                bucket[2].append(grad)
        for (device, _), (params, states, bucket_grads) in buckets.items():
            foreach = group.get('foreach')
            if foreach is None:
                foreach = device.type != 'cpu'
            if foreach:
                self._update(params, states, bucket_grads, c, lr, beta1, beta2, eps,
                             weight_decay, s)
                continue
            for i in range(len(params)):  # params with grad come first: grads[i:i+1] pairs up
                self._update(params[i:i + 1], states[i:i + 1], bucket_grads[i:i + 1], c, lr,
                             beta1, beta2, eps, weight_decay, s)

    @staticmethod
    def _update(params: List[Tensor], states: List[dict], grads: List[Tensor], c: float,
                lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                s: float) -> None:
        """(TBGN-2..4) on one bucket with g = c·grads; ``grads`` belong to the first
        ``len(grads)`` params, the rest have a zero gradient."""
        m = [state['exp_avg'] for state in states]
        n = [state['exp_avg_sq'] for state in states]
        steps = [state['step'] for state in states]
        torch._foreach_add_(steps, 1)
        t = [step.item() for step in steps]
        k = len(grads)
        # (TBGN-2) m_t = β1·m + (1-β1)/s_k · g
        torch._foreach_mul_(m, beta1)
        if k:
            torch._foreach_add_(m[:k], grads, alpha=(1 - beta1) / s * c)
        # (TBGN-3) n_t = β2·n + (1-β2)/s_k · g²
        torch._foreach_mul_(n, beta2)
        if k:
            torch._foreach_addcmul_(n[:k], grads, grads, value=(1 - beta2) / s * c * c)
        # (TBGN-4) θ ← θ·(1-αλ) - α·m̂/(sqrt(n̂)+ε), m̂ = m/(1-β1^t), n̂ = n/(1-β2^t)
        if weight_decay != 0:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
        denom = torch._foreach_sqrt(n)
        torch._foreach_div_(denom, [math.sqrt(1 - beta2**ti) for ti in t])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, m, denom, [-lr / (1 - beta1**ti) for ti in t])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """AdamW's state dict plus ``'tbgn'``: per-task step counts and skipped steps."""
        state_dict = super().state_dict()
        state_dict['tbgn'] = dict(task_steps=dict(self.task_steps),
                                  skipped_steps=self.skipped_steps)
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Inverse of :meth:`state_dict`; also takes an AdamW state dict (counts start at 0).

        Args:
            state_dict (dict): a TBGN or ``torch.optim.AdamW`` state dict.
        """
        state_dict = dict(state_dict)
        tbgn = state_dict.pop('tbgn', None) or {}
        super().load_state_dict(state_dict)
        self.task_steps = {str(k): int(v) for k, v in tbgn.get('task_steps', {}).items()}
        self.skipped_steps = int(tbgn.get('skipped_steps', 0))
