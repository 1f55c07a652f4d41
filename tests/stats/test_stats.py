"""Statistics against numpy and against known distributions, with fresh random data."""

from __future__ import annotations

import numpy as np
import pytest

from hyperf.stats.bootstrap import centre, inflation, summarize_point
from hyperf.stats.sample import median_ci, summarize


def test_summary_matches_numpy_on_fresh_samples():
    x = np.random.default_rng().lognormal(0.0, 0.3, size=257)
    s = summarize(x)
    assert s.n == 257
    assert s.median == pytest.approx(np.median(x))
    assert s.mean == pytest.approx(x.mean())
    assert s.std == pytest.approx(x.std(ddof=1))
    assert (s.min, s.max) == (x.min(), x.max())
    for name, q in (("p10", 10), ("p25", 25), ("p75", 75), ("p90", 90)):
        assert getattr(s, name) == pytest.approx(np.percentile(x, q))
    assert s.iqr == pytest.approx(s.p75 - s.p25)
    assert s.ci_low <= s.median <= s.ci_high
    assert s.rel_ci_halfwidth == pytest.approx((s.ci_high - s.ci_low) / 2 / s.median)


def test_order_statistic_interval_covers_the_true_median_of_a_skewed_distribution():
    rng = np.random.default_rng()
    true_median = 1.0  # lognormal(0, σ) has median e^0
    for n in (8, 20, 60):
        covered = 0
        for _ in range(400):
            low, high, coverage = median_ci(rng.lognormal(0.0, 0.8, size=n))
            covered += low <= true_median <= high
            assert coverage >= 0.95
        assert covered / 400 >= 0.92, n  # exact coverage ≥ 0.95; 400 trials allow noise


def test_too_few_samples_give_min_max_with_their_lower_coverage():
    low, high, coverage = median_ci([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (low, high) == (1.0, 5.0)
    assert coverage == pytest.approx(1 - 2 / 32)  # both ends miss with chance 2⁻⁵ each


def _process_samples(rng, processes, n, between, within, mu=0.0):
    """Times of one point in ``processes`` processes: log t = μ + a_r + e_ri."""
    return [
        np.exp(mu + rng.normal(0, between) + rng.normal(0, within, size=n))
        for _ in range(processes)
    ]


def test_two_level_interval_covers_despite_between_process_variation():
    """With process-to-process variation larger than within-process noise, the interval from
    one process's samples misses the true centre most of the time; the two-level interval
    over three processes covers it at least 90 % of the time."""
    rng = np.random.default_rng()
    trials, two_level, one_process = 300, 0, 0
    for _ in range(trials):
        repeats = _process_samples(rng, processes=3, n=40, between=0.05, within=0.03)
        point = summarize_point(repeats, resamples=2000, seed=int(rng.integers(1 << 30)))
        two_level += point.ci_low <= 1.0 <= point.ci_high
        single = summarize(repeats[0])
        one_process += single.ci_low <= 1.0 <= single.ci_high
    assert two_level / trials >= 0.90
    assert one_process / trials <= 0.6


def test_centre_weighs_each_process_once_and_replicates_are_seeded():
    fast, slow = [1.0] * 200, [4.0] * 5
    assert centre([fast, slow]) == pytest.approx(2.0)  # geometric mean of 1 and 4
    repeats = _process_samples(np.random.default_rng(3), 3, 20, 0.05, 0.03)
    first = summarize_point(repeats, seed=11)
    assert first == summarize_point(repeats, seed=11)
    assert first.processes == 3 and first.n == 60 and first.between_cv > 0
    assert first.ci_low < first.centre < first.ci_high


def test_one_process_falls_back_to_its_order_statistic_interval():
    x = np.random.default_rng().lognormal(0, 0.2, size=30)
    point = summarize_point([x])
    low, high, _ = median_ci(x)
    assert (point.ci_low, point.ci_high) == (low, high) and point.between_cv is None


def test_inflation_widens_few_processes_to_students_t():
    assert inflation(1) == 1.0
    assert inflation(3) > inflation(5) > inflation(30) > 1.0
    assert inflation(1000) == pytest.approx(1.0, abs=0.01)


def test_ci_narrows_with_more_samples():
    rng = np.random.default_rng()
    few = summarize(rng.normal(100, 5, size=10)).rel_ci_halfwidth
    many = summarize(rng.normal(100, 5, size=1000)).rel_ci_halfwidth
    assert many < few / 3


def test_noisy_flag_follows_the_iqr():
    quiet = summarize(np.random.default_rng().normal(100, 1, size=100))
    loud = summarize(np.random.default_rng().normal(100, 30, size=100))
    assert not quiet.noisy and loud.noisy


def test_single_sample_and_bad_input():
    s = summarize([3.0])
    assert (s.n, s.median, s.ci_low, s.ci_high, s.std) == (1, 3.0, 3.0, 3.0, 0.0)
    assert s.ci_coverage == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        summarize([])
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, float("nan")])
