"""WeightVersionCache: the one cache mechanism of target embeddings, merged experts and
vocabulary lookups."""
import torch
import torch.nn as nn

from uniperceiver_v2.models.weight_cache import WeightVersionCache


def test_reused_until_a_weight_changes_in_place_or_moves():
    layer = nn.Linear(3, 2)
    cache = WeightVersionCache()
    calls = []

    def compute():
        calls.append(1)
        return layer.weight.sum().item()

    first = cache.get('k', compute, layer.parameters())
    assert cache.get('k', compute, layer.parameters()) == first and len(calls) == 1
    assert cache.hits == 1 and cache.misses == 1
    with torch.no_grad():
        layer.weight.add_(1.0)  # optimizer step / load_state_dict: in-place, bumps _version
    assert cache.get('k', compute, layer.parameters()) != first and len(calls) == 2
    layer.weight.data = layer.weight.data.clone()  # new storage (as after .to(device))
    cache.get('k', compute, layer.parameters())
    assert len(calls) == 3


def test_entries_of_older_weights_are_dropped_and_keys_independent():
    layer = nn.Linear(2, 2)
    cache = WeightVersionCache()
    cache.get('a', lambda: 1, layer.parameters())
    cache.get('b', lambda: 2, layer.parameters())
    assert len(cache) == 2
    with torch.no_grad():
        layer.bias.zero_()
    cache.get('a', lambda: 3, layer.parameters())
    assert len(cache) == 1  # 'b' was computed with the old weights
    assert cache.get('const', lambda: 'x') == 'x' and cache.get('const', lambda: 'y') == 'x'
    cache.clear()
    assert len(cache) == 0
