"""How far TBGN moves each task's own parameters, against torch AdamW at the same lr.

Under unmixed sampling a parameter that only task k reaches has a gradient on the steps of task k
alone (a fraction s_k of the steps).  ``torch.optim.AdamW`` skips it on the other steps; TBGN
(paper §4, ``engine/tbgn_optimizer.py``) treats them as zero gradients, so its moments decay and
the parameter keeps moving, and the 1/s_k weights of its moments keep their averages at the
unit-norm gradient.  The parameter therefore travels about 1/s_k times further under TBGN than
under AdamW at the same ``lr`` - a larger effective learning rate for the rarest tasks' own
parameters (task-routed MoE experts, task heads).  Parameters every task reaches move about as
far under both.

The script trains one toy model per optimizer on the same task draws: a shared vector every
task's loss reaches plus one vector per task that only its loss reaches; each task's gradient is
a fixed random direction plus noise.  It prints the distance each vector travelled and the ratio
TBGN / AdamW (measured in the same run, no timing involved)::

    python experiments/tbgn_step_size/tbgn_step_size.py [--probs 1 3 1.5 1.5] [--steps 2000] [--noise 1.0]
"""
import argparse
from typing import Dict, List, Sequence

import torch

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.engine import TBGN


def travelled(optimizer_name: str, probs: Sequence[float], steps: int, dim: int, noise: float,
              lr: float, betas: Sequence[float], seed: int) -> Dict[str, float]:
    """Distance each parameter vector travelled after ``steps`` unmixed steps.

    Args:
        optimizer_name (str): ``'TBGN'`` or ``'AdamW'`` (weight decay 0 for both).
        probs (Sequence[float]): sampling weights of the tasks (normalised to s_k).
        steps (int): optimizer steps.
        dim (int): size of every parameter vector.
        noise (float): standard deviation of the gradient noise per element, relative to the
            fixed direction's.
        lr (float): learning rate of both optimizers.
        betas (Sequence[float]): (β1, β2) in torch's convention.
        seed (int): seed of the task draws, directions and noise (same for both optimizers).

    Returns:
        dict[str, float]: ``'shared'`` and ``'task<k>'`` -> L2 distance from the start.
    """
    gen = torch.Generator().manual_seed(seed)
    k = len(probs)
    s = torch.tensor(probs, dtype=torch.float64)
    s = s / s.sum()
    shared = torch.zeros(dim, requires_grad=True)
    own = [torch.zeros(dim, requires_grad=True) for _ in range(k)]
    directions = torch.randn(k, 2, dim, generator=gen)
    if optimizer_name == 'TBGN':
        optimizer = TBGN([shared, *own], lr=lr, betas=tuple(betas), weight_decay=0.0,
                         sampling_probs={str(t): float(s[t]) for t in range(k)})
    elif optimizer_name == 'AdamW':
        optimizer = torch.optim.AdamW([shared, *own], lr=lr, betas=tuple(betas),
                                      weight_decay=0.0)
    else:
        raise ValueError(f"optimizer must be 'TBGN' or 'AdamW', got {optimizer_name!r}")
    tasks = torch.multinomial(s, steps, replacement=True, generator=gen).tolist()
    for task in tasks:
        optimizer.zero_grad(set_to_none=True)
        shared.grad = directions[task, 0] + noise * torch.randn(dim, generator=gen)
        own[task].grad = directions[task, 1] + noise * torch.randn(dim, generator=gen)
        if optimizer_name == 'TBGN':
            optimizer.step(task=str(task))
        else:
            optimizer.step()
    out = {'shared': float(shared.detach().norm())}
    out.update({f'task{t}': float(p.detach().norm()) for t, p in enumerate(own)})
    return out


def compare(probs: Sequence[float], steps: int = 2000, dim: int = 64, noise: float = 1.0,
            lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.95),
            seed: int = 0) -> List[dict]:
    """One row per parameter vector: s_k, distance under TBGN and AdamW, their ratio.

    Args: as :func:`travelled`.
    """
    total = float(sum(probs))
    runs = {name: travelled(name, probs, steps, dim, noise, lr, betas, seed)
            for name in ('TBGN', 'AdamW')}
    rows = []
    for key in runs['TBGN']:
        s = probs[int(key[4:])] / total if key.startswith('task') else 1.0
        rows.append(dict(param=key, s=s, tbgn=runs['TBGN'][key], adamw=runs['AdamW'][key],
                         ratio=runs['TBGN'][key] / runs['AdamW'][key]))
    return rows


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--probs', nargs='+', type=float, default=[1.0, 3.0, 1.5, 1.5],
                        help='task sampling weights (default: the embedded default cls : det : '
                        'cap : ret)')
    parser.add_argument('--steps', type=int, default=2000)
    parser.add_argument('--dim', type=int, default=64)
    parser.add_argument('--noise', type=float, default=1.0)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--betas', nargs=2, type=float, default=[0.9, 0.95])
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    rows = compare(args.probs, args.steps, args.dim, args.noise, args.lr, args.betas, args.seed)
    print(f'{args.steps} steps, lr {args.lr}, betas {tuple(args.betas)}, noise {args.noise}')
    print(f'{"parameter":<10} {"s_k":>6} {"1/s_k":>7} {"TBGN":>9} {"AdamW":>9} '
          f'{"TBGN / AdamW":>13}')
    for row in rows:
        print(f'{row["param"]:<10} {row["s"]:>6.3f} {1 / row["s"]:>7.2f} {row["tbgn"]:>9.4f} '
              f'{row["adamw"]:>9.4f} {row["ratio"]:>13.2f}')
    return rows


if __name__ == '__main__':
    main()
