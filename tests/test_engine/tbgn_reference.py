"""An independent float64 implementation of TBGN (paper §4), written per parameter with the
paper's β convention, for the TBGN optimizer and wrapper tests."""
import math
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor


class PaperTBGN:
    """Paper §4 per parameter in float64: the paper's β weighs the NEW gradient.

    Args:
        params (Sequence[Tensor]): the initial parameters (copied to float64).
        betas (tuple[float, float]): (β1, β2) in torch's convention; the paper's β are 1 - these.
        eps (float): ε.
    """

    def __init__(self, params: Sequence[Tensor], betas=(0.9, 0.95), eps: float = 1e-8) -> None:
        self.params = [p.detach().double().clone() for p in params]
        self.state: Dict[int, dict] = {}
        self.beta1, self.beta2 = 1 - betas[0], 1 - betas[1]
        self.eps = eps

    def step(self, grads: List[Optional[Tensor]], lrs: List[float], wds: List[float],
             omega: float, s: float, params: Optional[Sequence[Tensor]] = None) -> float:
        """One step; ``params`` (e.g. bf16 ones) restarts from those values.  Returns the norm."""
        if params is not None:
            self.params = [p.detach().double().clone() for p in params]
        norm = math.sqrt(sum(float((g.double()**2).sum()) for g in grads if g is not None))
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None and i not in self.state:
                continue  # never reached by any task: untouched
            g = torch.zeros_like(p) if g is None else omega * g.double() / norm
            st = self.state.setdefault(i, dict(m=torch.zeros_like(p), n=torch.zeros_like(p), t=0))
            st['t'] += 1
            st['m'] = (1 - self.beta1) * st['m'] + (self.beta1 / s) * g
            st['n'] = (1 - self.beta2) * st['n'] + (self.beta2 / s) * g**2
            m_hat = st['m'] / (1 - (1 - self.beta1)**st['t'])
            n_hat = st['n'] / (1 - (1 - self.beta2)**st['t'])
            self.params[i] = p * (1 - lrs[i] * wds[i]) - lrs[i] * m_hat / (n_hat.sqrt() + self.eps)
        return norm
