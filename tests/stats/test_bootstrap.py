"""The one two-level bootstrap (hyperf.stats.bootstrap): its exact median draws against brute
force, its coverage of a known centre on fresh lognormal data, and the gate using it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from hyperf.stats.bootstrap import bootstrap_medians, centre, inflation, log_replicates
from hyperf.stats.comparison import median_ratio_ci, processes_ratio
from hyperf.stats.sample import CONFIDENCE, percentile_interval


@pytest.mark.parametrize("n", [1, 2, 7, 20])
def test_exact_median_draws_match_resampling(n):
    """``bootstrap_medians`` draws the medians of real resamples, without building them: the
    two distributions agree (two-sample Kolmogorov–Smirnov, 20,000 draws each)."""
    rng = np.random.default_rng(7 + n)
    x = np.sort(rng.lognormal(0.0, 0.5, size=n))
    exact = bootstrap_medians(x, 20_000, rng)
    brute = np.median(x[rng.integers(0, n, size=(20_000, n))], axis=1)
    assert scipy_stats.ks_2samp(exact, brute).pvalue > 1e-3


def _processes(rng, count, n, between, within):
    """log t[r, i] = a[r] + e[r, i]: the true centre is e⁰ = 1."""
    return [np.exp(rng.normal(0, between) + rng.normal(0, within, size=n)) for _ in range(count)]


@pytest.mark.parametrize("count", [3, 5])
def test_two_level_interval_covers_a_known_centre_at_about_the_nominal_rate(count):
    """Seeded: 400 fresh lognormal points of ``count`` processes × 40 samples, processes 5 %
    apart and samples 3 % apart within one; the 95 % interval from ``log_replicates`` covers
    the true centre 1 in 0.95 ± 0.04 of them (400 trials: sd 0.011)."""
    rng = np.random.default_rng(20_240_917 + count)
    trials, covered = 400, 0
    for _ in range(trials):
        repeats = _processes(rng, count, 40, between=0.05, within=0.03)
        low, high = np.exp(percentile_interval(log_replicates(repeats, 1000, rng)))
        covered += low <= 1.0 <= high
    assert 0.91 <= covered / trials <= 0.99, covered / trials


def test_two_level_interval_errs_wide_when_processes_agree():
    """Resampling at both levels counts the within-process noise of each process median twice
    (once in the spread of the medians, once in the resamples), so where that noise is as
    large as the between-process spread the interval is conservative: ≥ 0.95, never below."""
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(200):
        repeats = _processes(rng, 3, 30, between=0.01, within=0.1)
        low, high = np.exp(percentile_interval(log_replicates(repeats, 1000, rng)))
        covered += low <= 1.0 <= high
    assert covered / 200 >= 0.95


def test_gate_and_sweep_share_the_bootstrap():
    """``processes_ratio`` is the difference of two ``log_replicates`` runs from one stream,
    at the gate's confidence (its own k(R))."""
    rng = np.random.default_rng(3)
    base = [np.sort(x) for x in _processes(rng, 3, 40, 0.03, 0.05)]
    new = [np.sort(1.2 * x) for x in _processes(rng, 4, 40, 0.03, 0.05)]
    ratio, low, high, p = processes_ratio(base, new, 0.99, seed=11, replicates=2000)
    stream = np.random.default_rng(11)
    diffs = log_replicates(new, 2000, stream, 0.99) - log_replicates(base, 2000, stream, 0.99)
    assert (low, high) == pytest.approx(np.exp(percentile_interval(diffs, 0.99)), rel=1e-12)
    assert ratio == pytest.approx(centre(new) / centre(base)) and 0 <= p <= 1
    assert inflation(4, 0.99) > inflation(4, CONFIDENCE) > 1


def test_one_process_ratio_interval_covers_at_about_the_nominal_rate():
    """Same distribution on both sides (n = 60): the 95 % interval of the ratio of medians
    covers 1 in about 95 % of 300 seeded trials."""
    rng = np.random.default_rng(5)
    covered = 0
    for seed in range(300):
        base, new = (np.sort(rng.lognormal(0.0, 0.3, size=60)) for _ in range(2))
        low, high = median_ratio_ci(base, new, CONFIDENCE, seed=seed, replicates=2000)
        covered += low <= 1.0 <= high
    assert 0.89 <= covered / 300 <= 0.99, covered / 300


def test_replicates_are_centred_on_the_estimate_and_seeded():
    repeats = _processes(np.random.default_rng(1), 4, 25, 0.05, 0.1)
    first = log_replicates(repeats, 4000, np.random.default_rng(2))
    assert np.array_equal(first, log_replicates(repeats, 4000, np.random.default_rng(2)))
    assert np.median(first) == pytest.approx(math.log(centre(repeats)), abs=0.02)
    with pytest.raises(ValueError, match="at least one sample"):
        log_replicates([[1.0], []], 10, np.random.default_rng(0))
