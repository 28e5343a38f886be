"""ResumableInfiniteSampler: the stream, its split between ranks, and O(1) positioning."""
import itertools

import pytest
import torch

from uniperceiver_v2.datasets import ResumableInfiniteSampler


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_stream_is_seeded_permutations_per_pass():
    s = ResumableInfiniteSampler(list(range(7)), shuffle=True, seed=3)
    stream = take(s, 21)
    for epoch in range(3):
        g = torch.Generator().manual_seed(3 + epoch)
        assert stream[7 * epoch:7 * epoch + 7] == torch.randperm(7, generator=g).tolist()
    assert take(ResumableInfiniteSampler(list(range(4)), shuffle=False), 6) == [0, 1, 2, 3, 0, 1]


@pytest.mark.parametrize('position', [0, 1, 6, 7, 20, 100_000])
def test_set_position_continues_the_uninterrupted_stream(position):
    full = take(ResumableInfiniteSampler(list(range(7)), seed=1), position + 10)
    s = ResumableInfiniteSampler(list(range(7)), seed=1)
    s.set_position(position)
    assert take(s, 10) == full[position:]


def test_ranks_split_the_global_stream(monkeypatch):
    import uniperceiver_v2.datasets.resumable_infinite_sampler as mod
    streams = []
    for rank in range(3):
        monkeypatch.setattr(mod, 'get_dist_info', lambda rank=rank: (rank, 3))
        s = mod.ResumableInfiniteSampler(list(range(5)), seed=0)
        s.set_position(4)
        streams.append(take(s, 6))
    monkeypatch.setattr(mod, 'get_dist_info', lambda: (0, 1))
    whole = take(mod.ResumableInfiniteSampler(list(range(5)), seed=0), 30)
    for rank in range(3):  # rank r, position p -> global position r + 3 p
        assert streams[rank] == [whole[rank + 3 * p] for p in range(4, 10)]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match='empty'):
        ResumableInfiniteSampler([], seed=0)
    with pytest.raises(ValueError, match='position'):
        ResumableInfiniteSampler([1], seed=0).set_position(-1)
