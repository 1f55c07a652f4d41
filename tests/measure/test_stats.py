"""Statistics against numpy and against known distributions."""

from __future__ import annotations

import numpy as np
import pytest

from hyperf.measure.stats import bootstrap_median_ci, summarize


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


def test_bootstrap_is_seeded_and_covers_the_true_median():
    rng = np.random.default_rng(1234)
    true_median = np.exp(0.0)  # lognormal(0, σ) has median e^0 = 1
    covered = 0
    for _ in range(200):
        low, high = bootstrap_median_ci(rng.lognormal(0.0, 0.5, size=60), resamples=1000)
        covered += low <= true_median <= high
    assert 0.88 <= covered / 200 <= 0.995  # nominal 95%
    x = rng.normal(10, 1, size=50)
    assert bootstrap_median_ci(x, seed=7) == bootstrap_median_ci(x, seed=7)


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
    with pytest.raises(ValueError, match="non-empty"):
        summarize([])
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, float("nan")])
