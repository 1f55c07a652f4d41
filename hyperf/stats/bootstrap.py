"""The time of a point measured in several processes, and the one two-level bootstrap that
gives its CI — used by the sweep's points, crossovers and speedups, the benchmark history and
the regression gate alike. Pure functions, documented by their maths and assumptions.

**Two levels.** A point is measured in R independent processes ("repeats"; for the gate, runs
of the benchmark suite), process r taking n_r samples. Samples of one process share its state —
where its memory landed, which cores its threads run on, the allocator's history — so they are
not independent draws of the point's time: on a quiet 2-core machine process medians differ by
4–8 % while each process's own 95 % CI is ±2–3 % wide (issue 10). The model behind every
interval here is

    log t[r, i] = μ + a[r] + e[r, i],     a[r] ~ (0, σ_between²),  e ~ (0, σ_within²),

with processes independent of each other and samples exchangeable within a process.

- **Centre of a point**: the geometric mean of its R process medians,
  exp(mean_r log median_r) — each process counts once, however many samples it took.
- **Two-level bootstrap** (``log_replicates``): a replicate resamples R processes with
  replacement, then each chosen process's n_r samples with replacement, and takes the mean of
  the replicated processes' log medians. Each within-process median is drawn exactly without
  building the resample (``bootstrap_medians``), so 10⁶ samples cost what 10 cost. Percentiles
  of raw replicates undercover when R is small (with R top-level units a percentile interval
  cannot exceed 1 − 2·2⁻ᴿ coverage: 0.75 at R = 3), so deviations from the centre are scaled by

      k(R) = sqrt(R / (R − 1)) · t(R − 1, (1 + c)/2) / z((1 + c)/2)

  at confidence c — the first factor undoes the bootstrap's (R − 1)/R shrinkage of the
  between-process variance, the second widens a normal interval to Student's t with R − 1
  degrees of freedom (assumption: process log medians are roughly normal). The point's CI,
  and every speedup and crossover CI built from points, are percentiles of functions of these
  scaled replicates. With R = 1 the between-process term is unknown: the replicates are the
  within-process bootstrap alone, the point CI is the order-statistic interval
  (``hyperf.stats.sample.median_ci``), and the point is marked as having one process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

from hyperf.stats.sample import CONFIDENCE, median_ci, percentile_interval, summarize


def centre(repeats: Sequence[Sequence[float]]) -> float:
    """The point's time: the geometric mean of its process medians (in the samples' unit)."""
    _check_repeats(repeats)
    return float(np.exp(np.mean([np.log(np.median(r)) for r in repeats])))


def inflation(processes: int, confidence: float = CONFIDENCE) -> float:
    """k(R): the factor that turns two-level bootstrap deviations into a Student-t interval
    with R − 1 degrees of freedom (1 for a single process)."""
    if processes < 2:
        return 1.0
    z = scipy_stats.norm.ppf(0.5 + confidence / 2)
    t = scipy_stats.t.ppf(0.5 + confidence / 2, processes - 1)
    return math.sqrt(processes / (processes - 1)) * float(t / z)


def bootstrap_medians(
    sorted_samples: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """Medians of ``replicates`` bootstrap resamples (n values drawn with replacement from the
    n sorted samples x(1) ≤ … ≤ x(n)), drawn exactly in O(replicates) time.

    A resample is x(⌈n·U_i⌉) for n uniforms U_i (the empirical quantile function), and that
    function is monotone, so the resample's k-th smallest value is x(⌈n·U(k)⌉), with U(k) the
    k-th smallest of n uniforms: U(k) ~ Beta(k, n − k + 1). For odd n the median is rank
    k = (n + 1)/2. For even n it averages ranks k = n/2 and k + 1; given U(k), the other n − k
    uniforms are uniform on (U(k), 1), so U(k+1) = U(k) + (1 − U(k))·Beta(1, n − k).
    """
    n = len(sorted_samples)
    k = (n + 1) // 2
    u_k = rng.beta(k, n - k + 1, size=replicates)
    lower = sorted_samples[_rank_index(u_k, n)]
    if n % 2:
        return lower
    u_next = u_k + (1 - u_k) * rng.beta(1, n - k, size=replicates)
    return (lower + sorted_samples[_rank_index(u_next, n)]) / 2


def _rank_index(u: np.ndarray, n: int) -> np.ndarray:
    """0-based index of x(⌈n·u⌉)."""
    return np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)


def log_replicates(
    repeats: Sequence[Sequence[float]],
    resamples: int,
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
) -> np.ndarray:
    """``resamples`` two-level bootstrap replicates of log(centre), scaled by k(R) at
    ``confidence`` (the level of the interval they are for).

    Every (replicate, slot) pair gets a fresh within-process resample of the process picked
    for it. Pass one ``rng`` to every point of a comparison so their replicates are
    independent."""
    _check_repeats(repeats)
    processes = [np.sort(np.asarray(r, dtype=np.float64)) for r in repeats]
    count = len(processes)
    estimate = math.log(centre(processes))
    picks = rng.integers(0, count, size=(resamples, count))
    total = np.zeros(resamples)
    for slot in range(count):
        drawn = np.stack([np.log(bootstrap_medians(x, resamples, rng)) for x in processes])
        total += drawn[picks[:, slot], np.arange(resamples)]
    replicate = total / count
    return estimate + inflation(count, confidence) * (replicate - estimate)


@dataclass(frozen=True)
class PointStats:
    """A point's time over its processes: centre, 95 % CI, and how the processes differ."""

    processes: int
    n: int  # samples over all processes
    centre: float
    ci_low: float
    ci_high: float
    rel_ci_halfwidth: float
    between_cv: float | None  # std / mean of the process medians (None with one process)
    noisy: bool  # any process noisy within itself

    def as_dict(self) -> dict:
        return asdict(self)


def summarize_point(
    repeats: Sequence[Sequence[float]], resamples: int = 4000, seed: int = 0
) -> PointStats:
    """Centre and CONFIDENCE CI of a point from the raw samples of each of its processes."""
    _check_repeats(repeats)
    middle = centre(repeats)
    if len(repeats) == 1:
        low, high, _ = median_ci(repeats[0])
    else:
        replicates = log_replicates(repeats, resamples, np.random.default_rng(seed))
        low, high = np.exp(percentile_interval(replicates))
    medians = np.array([np.median(r) for r in repeats])
    return PointStats(
        processes=len(repeats),
        n=int(sum(len(r) for r in repeats)),
        centre=middle,
        ci_low=float(low),
        ci_high=float(high),
        rel_ci_halfwidth=float((high - low) / (2 * middle)),
        between_cv=float(medians.std(ddof=1) / medians.mean()) if len(repeats) > 1 else None,
        noisy=any(summarize(r).noisy for r in repeats),
    )


def _check_repeats(repeats) -> None:
    if not len(repeats) or any(len(r) == 0 for r in repeats):
        raise ValueError("every process needs at least one sample")
