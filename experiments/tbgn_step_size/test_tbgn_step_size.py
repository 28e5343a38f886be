"""Smoke test of tbgn_step_size.py: TBGN moves a parameter only task k reaches ~1/s_k times as far
as AdamW at the same lr (the figure of this study's README)."""
import pytest

import tbgn_step_size


def test_tbgn_step_size_own_parameters_travel_one_over_s_further():
    rows = {r['param']: r for r in tbgn_step_size.compare([1.0, 3.0], steps=800, dim=16)}
    for key in ('task0', 'task1'):
        assert rows[key]['ratio'] == pytest.approx(1 / rows[key]['s'], rel=0.25)
    assert rows['task0']['ratio'] > rows['task1']['ratio']  # the rarer task, the further
    with pytest.raises(ValueError, match="'TBGN' or 'AdamW'"):
        tbgn_step_size.travelled('SGD', [1.0], 1, 4, 0.0, 1e-3, (0.9, 0.95), 0)
