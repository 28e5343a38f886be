"""seed_iteration: the draws of an iteration are a function of (seed, rank, iteration)."""
import random

import numpy as np
import torch

from uniperceiver_v2.utils.iteration_seed import seed_iteration


def draws(seed, rank, iteration):
    seed_iteration(seed, rank, iteration)
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_same_key_same_draws_whatever_ran_before():
    first = draws(0, 0, 5)
    torch.rand(100), np.random.rand(7), random.random()  # e.g. a validation in between
    assert draws(0, 0, 5) == first


def test_other_keys_other_draws():
    base = draws(0, 0, 5)
    for key in ((0, 0, 6), (0, 1, 5), (1, 0, 5)):
        other = draws(*key)
        assert all(a != b for a, b in zip(base, other)), key
