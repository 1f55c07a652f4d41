"""Step detection (hyperf/stats/steps.py) on fresh random histories.

There is no fixed seed: every run draws new noise, log-normal with σ of 0.1–1 %, while the
steps are 20–25 % and the smallest step reported is 5 %. Why a failure is astronomically
unlikely (Φ̄(10) ≈ 1e-23):

- A reported step needs two levels (medians of ≥ 2 commits, so each within its commits'
  range) 5 % apart; in a flat series with σ = 0.2 % that takes a commit 12σ off.
- A 20 % step is 90σ at σ = 0.2 % (18σ at 1 %). Fitting it one commit early or late puts a
  commit in the wrong level, which costs the step minus twice that commit's noise: only a
  commit ~9σ off could pay for it.
- An outlier is isolated only in a two-commit segment (``MIN_LENGTH``), which costs what it
  costs where it is: the split gains noise-sized amounts and pays 2γ = 2·3·σ̂·ln 30 ≥ 20σ at
  σ = 0.1 % (σ̂ is floored at 0.1 %), so it takes a commit ~10σ off.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hyperf.stats.steps import (
    MIN_CHANGE,
    detect_steps,
    noise_scale,
    segment_costs,
    solve_potts,
)

rng = np.random.default_rng()  # fresh each run: see above for why that is safe
M = 30  # commits


def noisy(level: float, n: int, sigma: float) -> np.ndarray:
    return level * rng.lognormal(0.0, sigma, n)


def test_a_flat_noisy_series_has_no_step():
    fit = detect_steps(noisy(1e-3, M, 0.002))
    assert fit.steps == [] and len(fit.segments) == 1


@pytest.mark.parametrize("sigma", [0.002, 0.01])
def test_one_20_percent_step_is_found_at_its_commit(sigma):
    at = int(rng.integers(2, M - 1))  # anywhere a level of two commits fits on each side
    times = np.concatenate([noisy(1e-3, at, sigma), noisy(1.2e-3, M - at, sigma)])
    commits = [f"c{i}" for i in range(M)]
    fit = detect_steps(times, commits)
    assert [(s.index, s.commit) for s in fit.steps] == [(at, f"c{at}")]
    assert fit.steps[0].change == pytest.approx(0.2, abs=12 * sigma)  # ≥ 10 sd


def test_a_step_up_then_down_gives_both():
    up = int(rng.integers(3, M - 6))
    down = int(rng.integers(up + 3, M - 2))
    levels = np.where(np.arange(M) < up, 1.0, np.where(np.arange(M) < down, 1.2, 0.9))
    fit = detect_steps(levels * rng.lognormal(0.0, 0.002, M))
    assert [s.index for s in fit.steps] == [up, down]
    assert [np.sign(s.change) for s in fit.steps] == [1, -1]


def test_a_single_outlier_is_not_a_step():
    times = noisy(1e-3, M, 0.001)
    where = int(rng.integers(0, M))  # first and last commit included
    times[where] *= rng.choice([1.5, 0.6])
    assert detect_steps(times).steps == []


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_short_series_have_no_steps(n):
    fit = detect_steps(noisy(1e-3, n, 0.2))
    assert fit.steps == [] and len(fit.segments) == (1 if n else 0)


def test_a_step_below_the_minimum_is_merged_away():
    times = np.concatenate([noisy(1.0, 15, 0.0005), noisy(1.03, 15, 0.0005)])
    assert detect_steps(times).steps == []  # 3 % < MIN_CHANGE
    assert MIN_CHANGE > 0.03
    assert [s.index for s in detect_steps(times, min_change=0.01).steps] == [15]


def potts_cost(y: np.ndarray, bounds: list[int], gamma: float) -> float:
    """γ·k + Σ L1 cost of the segmentation with these boundaries."""
    pairs = list(itertools.pairwise(bounds))
    return gamma * len(pairs) + sum(np.abs(y[a:b] - np.median(y[a:b])).sum() for a, b in pairs)


def test_costs_and_fit_are_exact():
    """The heaps' segment costs and the dynamic programme against brute force: every
    segmentation with segments of ≥ 2 points of a random short series."""
    for _ in range(40):
        m = int(rng.integers(1, 10))
        y = rng.normal(size=m) + np.repeat(rng.normal(size=3) * 3, 4)[:m]
        gamma = float(rng.uniform(0.0, 2.0))
        cost = segment_costs(y, 2)
        for a, b in itertools.combinations(range(m + 1), 2):
            expected = np.abs(y[a:b] - np.median(y[a:b])).sum() if b - a >= 2 else np.inf
            assert cost[a, b] == pytest.approx(expected, abs=1e-12)
        candidates = [
            [0, *cuts, m]
            for k in range(m)
            for cuts in itertools.combinations(range(2, m - 1), k)
            if all(b - a >= 2 for a, b in itertools.pairwise([0, *cuts, m]))
        ] or [[0, m]]
        fitted = [0, *(end for _, end in solve_potts(y, gamma, 2))]
        best = min(potts_cost(y, c, gamma) for c in candidates)
        assert potts_cost(y, fitted, gamma) == pytest.approx(best, abs=1e-9)


def test_noise_scale_is_consistent_and_ignores_steps():
    """σ̂ of 5000 normal points is within ±15 % of σ (its sd is 1.7 %: a 9-sd margin), and
    one large step moves one difference of 4999."""
    y = rng.normal(0.0, 0.02, 5000)
    y[2500:] += 1.0
    assert noise_scale(y) == pytest.approx(0.02, rel=0.15)


def test_bad_series_are_refused():
    for bad in ([1.0, 0.0, 1.0], [1.0, float("nan")], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="positive, finite"):
            detect_steps(bad)
