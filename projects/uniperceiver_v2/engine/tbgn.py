"""Task-Balanced Gradient Normalization (TBGN), paper §4.4, as an MMEngine optimizer wrapper."""
import logging
import math
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper
from torch import Tensor
from torch.optim import Optimizer

#: MessageHub runtime-info keys read by TBGN (published by ``MultiTaskTrainLoop``).
TASK_INFO_KEY = 'task'
TASK_PROBS_INFO_KEY = 'task_sampling_probs'
TASK_SAMPLING_INFO_KEY = 'task_sampling'


def _check_weights(weights: Optional[Mapping[str, float]], key: str, normalise: bool
                   ) -> Optional[Dict[str, float]]:
    if weights is None:
        return None
    if not isinstance(weights, Mapping) or not weights:
        raise TypeError(f'{key} must be a non-empty dict task -> weight, got {weights!r}')
    out = {}
    for task, w in weights.items():
        if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f'{key}.{task} must be a finite number >= 0, got {w!r}')
        out[task] = float(w)
    if normalise:
        total = sum(out.values())
        if total <= 0:
            raise ValueError(f'{key}: all weights are 0')
        out = {task: w / total for task, w in out.items()}
    return out


@OPTIM_WRAPPERS.register_module()
class TBGNOptimWrapper(OptimWrapper):
    r"""AdamW with Task-Balanced Gradient Normalization (paper §4.4).

    When task :math:`k` (sampled with probability :math:`s_k`) is trained::

        g   = ω_k · ∇L_k / ‖∇L_k‖₂                       (one global L2 norm, all parameters)
        m_t = β1·m + (1-β1)/s_k · g                       (paper writes (1-β)·m + β/s_k·g with
        n_t = β2·n + (1-β2)/s_k · g²                        β weighting the new gradient)
        θ  ← θ·(1 - α·λ) - α · m̂_t / (sqrt(n̂_t) + ε)      m̂ = m_t/(1-β1^t), n̂ = n_t/(1-β2^t)

    i.e. AdamW (decoupled weight decay λ, bias correction) fed with the normalised task gradient,
    whose moments are compensated by :math:`1/s_k` so that in expectation over the task draws every
    task contributes :math:`ω_k` times its unit-norm gradient.  Parameters that the task does not
    reach (``grad is None``) count as a zero gradient: their moments decay and they keep moving
    with their momentum, which is what the expectation above needs.  The norm is taken in
    :meth:`step`, i.e. after DDP has all-reduced the gradients (and, in
    :class:`AmpTBGNOptimWrapper`, after unscaling).  A non-finite norm skips the step with a
    warning: weights, moments and step counts stay untouched.

    The hyper-parameters ``lr``, ``betas``, ``eps``, ``weight_decay`` are read from the wrapped
    ``torch.optim.AdamW``'s param groups at every step, so ``paramwise_cfg`` multipliers and param
    schedulers work as usual; its ``state`` holds the moments (``exp_avg`` = m, ``exp_avg_sq`` = j·n
    with the scalar j of :meth:`_adamw_group`, ``step``), so checkpoints save and resume them.
    The update runs torch's fused AdamW kernel (one pass) after one global norm computation.
    The task comes from the MessageHub runtime info ``'task'`` (or ``step(task=...)``); without
    it the wrapper is AdamW on the normalised gradient with ``ω = s = 1``.

    Config (``constructor`` keeps TBGN under mmdet's ``tools/train.py --amp``)::

        optim_wrapper = dict(
            type='TBGNOptimWrapper', constructor='TBGNOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.2),
            task_weights=dict(cls=1., caption=1.),     # ω_k; None: all 1
            sampling_weights=None)                      # s_k; None: from train_cfg.tasks

    Args:
        optimizer (torch.optim.AdamW): supplies param groups, hyper-parameters and state.
        task_weights (dict[str, float], optional): ω_k per task; ``None`` means 1 for every task.
        sampling_weights (dict[str, float], optional): per-task sampling weights, normalised to
            s_k; ``None`` takes s_k from the MessageHub info ``'task_sampling_probs'`` published by
            ``MultiTaskTrainLoop`` (``train_cfg.tasks.<task>.sampling_weight``).
        accumulative_counts (int): must be 1 (accumulating would mix tasks in one step).
        clip_grad (dict, optional): must be None (normalisation supersedes clipping).
    """

    def __init__(self,
                 optimizer: Optimizer,
                 task_weights: Optional[Mapping[str, float]] = None,
                 sampling_weights: Optional[Mapping[str, float]] = None,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None) -> None:
        if not isinstance(optimizer, torch.optim.AdamW):
            raise TypeError('optim_wrapper.optimizer.type must be AdamW for TBGN (its update is '
                            f'AdamW on the normalised gradient), got {type(optimizer).__name__}')
        for group in optimizer.param_groups:
            if group.get('amsgrad', False) or group.get('maximize', False):
                raise ValueError('optim_wrapper.optimizer: TBGN supports neither amsgrad nor '
                                 'maximize')
        if accumulative_counts != 1:
            raise ValueError('optim_wrapper.accumulative_counts must be 1 for TBGN: each step '
                             'normalises the gradient of exactly one task')
        if clip_grad is not None:
            raise ValueError('optim_wrapper.clip_grad must be None for TBGN: the gradient is '
                             'normalised to norm ω_k, which supersedes clipping')
        super().__init__(optimizer=optimizer, accumulative_counts=1, clip_grad=None)
        self.task_weights = _check_weights(task_weights, 'optim_wrapper.task_weights', False)
        self.sampling_weights = _check_weights(sampling_weights, 'optim_wrapper.sampling_weights',
                                               True)
        self.task_steps: Dict[str, int] = {}
        self.skipped_steps = 0
        #: param-group index -> j, the scale of the stored second moment (see _adamw_group)
        self.sq_scales: Dict[int, float] = {}

    # ------------------------------------------------------------------ task factors
    def task_factors(self, task: Optional[str] = None) -> Tuple[Optional[str], float, float]:
        """``(task, ω_k, s_k)`` of the current step.

        Args:
            task (str, optional): explicit task; default the MessageHub runtime info ``'task'``.
        """
        hub = self.message_hub
        if task is None:
            task = hub.get_info(TASK_INFO_KEY)
        if task is None:
            return None, 1.0, 1.0
        if (hub.get_info(TASK_SAMPLING_INFO_KEY) == 'mixed' and get_world_size() > 1):
            raise RuntimeError('TBGN needs unmixed sampling (train_cfg.sampling="unmixed"): with '
                               'mixed sampling every rank trains another task and the ranks would '
                               'apply different ω_k/s_k to the same all-reduced gradient')
        if self.task_weights is None:
            omega = 1.0
        elif task in self.task_weights:
            omega = self.task_weights[task]
        else:
            raise KeyError(f"optim_wrapper.task_weights has no entry for task '{task}' "
                           f'(has {sorted(self.task_weights)})')
        if self.sampling_weights is not None:
            probs, key = self.sampling_weights, 'optim_wrapper.sampling_weights'
        else:
            probs, key = hub.get_info(TASK_PROBS_INFO_KEY), 'train_cfg.tasks'
        if probs is None:
            s = 1.0
        elif task in probs:
            s = float(probs[task])
        else:
            raise KeyError(f"{key} has no entry for task '{task}' (has {sorted(probs)})")
        if s <= 0:
            raise ValueError(f"{key}: task '{task}' is trained but its sampling weight is 0")
        return task, omega, s

    # ------------------------------------------------------------------ update
    def update_params(self,
                      loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None,
                      task: Optional[str] = None) -> None:
        """Backward ``loss`` and take one TBGN step (``task`` overrides the MessageHub)."""
        step_kwargs = dict(step_kwargs or {})
        if task is not None:
            step_kwargs['task'] = task
        super().update_params(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)

    def step(self, task: Optional[str] = None, **kwargs) -> None:
        """One TBGN step on the gradients in ``param.grad``.

        Args:
            task (str, optional): the task of these gradients; default the MessageHub's.
        """
        if kwargs:
            raise TypeError(f'TBGNOptimWrapper.step got unexpected arguments {sorted(kwargs)}')
        self.tbgn_step(*self.task_factors(task))

    def _collect(self) -> Tuple[List[Tensor], list]:
        """All gradients, and per group: (group, params with grad, their grads, params without)."""
        all_grads: List[Tensor] = []
        per_group = []
        for group in self.optimizer.param_groups:
            with_grad, grads, without = [], [], []
            for p in group['params']:
                if p.grad is not None:
                    if p.grad.is_sparse:
                        raise RuntimeError('TBGN does not support sparse gradients')
                    with_grad.append(p)
                    grads.append(p.grad)
                elif len(self.optimizer.state.get(p, {})) > 0:
                    without.append(p)
            all_grads.extend(grads)
            per_group.append((group, with_grad, grads, without))
        return all_grads, per_group

    @staticmethod
    def global_grad_norm(grads: List[Tensor]) -> Tensor:
        """‖∇L‖₂ over all gradients, in float32 (one ``_foreach_norm`` + one reduction).

        The float32 sum of squares overflows once gradients reach ~1e19 although every element is
        finite (seen on a randomly initialised deformable encoder); only then the norm is
        recomputed in float64, so such a step is normalised instead of skipped.  Real inf / NaN
        gradients stay non-finite in float64 too and still skip the step.
        """
        norms = torch._foreach_norm(grads)
        device = grads[0].device
        total = torch.linalg.vector_norm(
            torch.stack([n.to(device=device, dtype=torch.float32) for n in norms]))
        if not torch.isfinite(total):
            total = torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(g, dtype=torch.float64).to(device) for g in grads]))
        return total

    @torch.no_grad()
    def tbgn_step(self, task: Optional[str], omega: float, s: float) -> bool:
        """Normalise, weigh and apply the gradients (equations in the class docstring).

        Returns:
            bool: whether the step was applied (False: no gradient, or non-finite norm).
        """
        all_grads, per_group = self._collect()
        if not all_grads:
            return False
        norm = float(self.global_grad_norm(all_grads))
        if not math.isfinite(norm):
            self.skipped_steps += 1
            print_log(f'TBGN: non-finite gradient norm ({norm}) for task {task!r}; step skipped '
                      f'({self.skipped_steps} skipped so far)', logger='current',
                      level=logging.WARNING)
            self.message_hub.update_scalar('train/tbgn_skipped_steps', self.skipped_steps)
            return False
        self.message_hub.update_scalar('train/grad_norm', norm)
        # the kernel divides every gradient by grad_scale: ∇L / grad_scale = (ω / ‖∇L‖) ∇L / s_k
        grad_scale = s * norm / omega if norm > 0 and omega > 0 else math.inf
        for index, (group, with_grad, grads, without) in enumerate(per_group):
            if with_grad or without:
                self._adamw_group(index, group, with_grad, grads, without, grad_scale, s)
        if task is not None:
            self.task_steps[task] = self.task_steps.get(task, 0) + 1
        return True

    def _adamw_group(self, index: int, group: dict, with_grad: List[Tensor], grads: List[Tensor],
                     without: List[Tensor], grad_scale: float, s: float) -> None:
        """The AdamW update of one param group with the 1/s_k moment compensation.

        Runs torch's fused AdamW kernel (one pass over parameters, gradients and moments) on
        ``G = g / s_k`` (``grad_scale``), which gives ``m_t = β1·m + (1-β1)·g/s_k`` directly.  For
        ``n`` the kernel would add ``(1-β2)·g²/s_k²`` instead of ``(1-β2)·g²/s_k``; the state
        therefore holds ``ñ = j·n`` with a per-group scalar ``j`` and a per-step ``β2'``::

            j' = 1 / (β2/j + (1-β2)·s_k),   β2' = j'·β2/j   =>   ñ' = β2'·ñ + (1-β2')·G² = j'·n_t

        and the kernel's bias correction is switched off (step count → ∞) and folded, with ``j'``,
        into its scalars: ``lr' = α·sqrt(j'·bc2)/bc1``, ``ε' = ε·sqrt(j'·bc2)``,
        ``λ' = α·λ/lr'``, so that ``lr'·m/(sqrt(ñ')+ε') = α·(m_t/bc1)/(sqrt(n_t/bc2)+ε)`` and
        ``lr'·λ' = α·λ`` exactly.  ``bc1 = 1-β1^t``, ``bc2 = 1-β2^t`` use each parameter's own step
        count ``t``.  Parameters without gradient get a zero gradient.
        """
        lr, (beta1, beta2) = float(group['lr']), group['betas']
        eps, weight_decay = group['eps'], group['weight_decay']
        state = self.optimizer.state
        for p in with_grad:
            st = state[p]
            if len(st) == 0:
                st['step'] = 0
                st['exp_avg'] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st['exp_avg_sq'] = torch.zeros_like(p, memory_format=torch.preserve_format)
        j_old = self.sq_scales.get(index, 1.0)
        j = 1.0 / (beta2 / j_old + (1.0 - beta2) * s)
        beta2_k = j * beta2 / j_old
        buckets: Dict[tuple, List[list]] = {}
        for p, g in zip(with_grad + without, grads + [None] * len(without)):
            st = state[p]
            st['step'] = int(st['step']) + 1
            bucket = buckets.setdefault((p.device, p.dtype, st['step']), [[], [], [], []])
            bucket[0].append(p)
            bucket[1].append(torch.zeros_like(p) if g is None else g)
            bucket[2].append(st['exp_avg'])
            bucket[3].append(st['exp_avg_sq'])
        for (device, _, t), (params, gs, exp_avgs, exp_avg_sqs) in buckets.items():
            bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
            root = math.sqrt(j * bc2)
            lr_k = lr * root / bc1
            no_bias_correction = torch.full((), 2.0**40, dtype=torch.float32, device=device)
            torch._fused_adamw_(
                params, gs, exp_avgs, exp_avg_sqs, [], [no_bias_correction] * len(params),
                lr=lr_k, beta1=beta1, beta2=beta2_k,
                weight_decay=lr * weight_decay / lr_k if lr_k > 0 else 0.0,
                eps=eps * root, amsgrad=False, maximize=False,
                grad_scale=torch.full((), grad_scale, dtype=torch.float32, device=device),
                found_inf=None)
        self.sq_scales[index] = j

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Optimizer state (moments, per-parameter steps) plus ``'tbgn'`` (per-task step counts)."""
        state_dict = super().state_dict()
        state_dict['tbgn'] = dict(task_steps=dict(self.task_steps),
                                  skipped_steps=self.skipped_steps,
                                  sq_scales=dict(self.sq_scales))
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Inverse of :meth:`state_dict`."""
        state_dict = dict(state_dict)
        tbgn = state_dict.pop('tbgn', None)
        if tbgn is not None:
            self.task_steps = dict(tbgn.get('task_steps', {}))
            self.skipped_steps = int(tbgn.get('skipped_steps', 0))
            self.sq_scales = {int(k): float(v) for k, v in tbgn.get('sq_scales', {}).items()}
        super().load_state_dict(state_dict)

    def __repr__(self) -> str:
        return (f'{super().__repr__()}task_weights: {self.task_weights}\n'
                f'sampling_weights: {self.sampling_weights}\n')
