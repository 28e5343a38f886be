"""Per-iteration seeding: the random draws of a training iteration depend on (seed, rank, iteration)."""
import random

import numpy as np
import torch


def seed_iteration(seed: int, rank: int, iteration: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every GPU).

    ``MultiTaskTrainLoop`` calls this before fetching and training each batch, so every random
    draw of iteration ``t`` on rank ``r`` (denoising noise, dropout, random captions, augmentations
    run in the main process) is a function of ``(seed, r, t)``: a resumed run continues with
    exactly the numbers of the uninterrupted one without saving any generator state (the
    checkpoint's ``meta.iter`` and ``meta.seed`` determine them), and whatever runs between
    iterations (validation, logging) cannot shift them.  Data-loader worker processes keep their
    own generators, seeded once by MMEngine's ``worker_init_fn``.

    Args:
        seed (int): the run's seed (``randomness.seed``; the same on every rank).
        rank (int): this process' rank (ranks draw independent numbers).
        iteration (int): the 0-based training iteration.
    """
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(rank), int(iteration)])
    words = state.generate_state(4, dtype=np.uint32)
    random.seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(int(words[2]))
    torch.manual_seed(int(words[3]) << 31 | int(words[1]) >> 1)
