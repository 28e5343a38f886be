"""TaskSampler: frequencies follow s_k, identical draws on all ranks, resumable sequence."""
import numpy as np
import pytest

from uniperceiver_v2.engine import TaskSampler, build_task_sampler


def test_frequencies_follow_sampling_weights():
    sampler = TaskSampler(dict(det=5, cls=3, cap=2), seed=7)
    assert sampler.probabilities == pytest.approx(dict(det=0.5, cls=0.3, cap=0.2))
    n = 20000
    counts = sampler.counts(n)
    for task, p in sampler.probabilities.items():
        # 4.5 binomial standard deviations
        assert abs(counts[task] / n - p) < 4.5 * np.sqrt(p * (1 - p) / n)


def test_unmixed_draws_identical_on_every_rank_mixed_differ():
    ranks = [TaskSampler(dict(a=1, b=1, c=2), seed=3, sampling='unmixed', rank=r) for r in range(4)]
    seqs = [s.sequence(0, 200) for s in ranks]
    assert all(seq == seqs[0] for seq in seqs)
    mixed = [TaskSampler(dict(a=1, b=1, c=2), seed=3, sampling='mixed', rank=r) for r in range(2)]
    assert mixed[0].sequence(0, 200) != mixed[1].sequence(0, 200)


def test_resume_continues_exact_sequence():
    full = TaskSampler(dict(a=2, b=1), seed=11).sequence(0, 100)
    resumed = TaskSampler(dict(a=2, b=1), seed=11)  # a new process after a restart
    assert resumed.sequence(60, 100) == full[60:]
    counts = resumed.counts(60)
    assert counts == {t: full[:60].count(t) for t in 'ab'}
    assert TaskSampler(dict(a=2, b=1), seed=12).sequence(0, 100) != full


def test_zero_weight_task_is_never_drawn():
    sampler = TaskSampler(dict(a=1, b=0), seed=0)
    assert set(sampler.sequence(0, 500)) == {'a'}


def test_bad_config_raises_naming_the_key():
    with pytest.raises(ValueError, match='train_cfg.tasks.b.sampling_weight'):
        TaskSampler(dict(a=1, b=-1), seed=0)
    with pytest.raises(ValueError, match='train_cfg.sampling'):
        TaskSampler(dict(a=1), seed=0, sampling='round_robin')
    with pytest.raises(KeyError, match='train_cfg.tasks.a'):
        build_task_sampler(dict(a=dict(sampling_weigth=1)), seed=0)
    assert build_task_sampler(dict(a=dict(), b=dict(sampling_weight=3)), seed=0).probabilities == \
        pytest.approx(dict(a=0.25, b=0.75))
