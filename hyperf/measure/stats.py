"""Statistics of timing samples, as pure functions, documented by their maths and assumptions.

Timing samples are right-skewed (interrupts, cache misses, frequency changes add time, nothing
removes it), so the centre is a median and its uncertainty never comes from a normal
approximation of the raw samples.

**Two levels.** A point is measured in R independent processes ("repeats"), process r taking
n_r samples. Samples of one process share its state — where its memory landed, which cores
its threads run on, the allocator's history — so they are not independent draws of the
point's time: on a quiet 2-core machine process medians differ by 4–8 % while each process's
own 95 % CI is ±2–3 % wide (issue 10). The model behind every interval here is

    log t[r, i] = μ + a[r] + e[r, i],     a[r] ~ (0, σ_between²),  e ~ (0, σ_within²),

with processes independent of each other and samples exchangeable within a process.

- **Within one process**: the median's 95 % CI is the distribution-free order-statistic
  interval [X(j), X(n−j+1)], j the largest rank with P(Binomial(n, ½) < j) ≤ 2.5 %. It holds
  for any continuous distribution (the percentile bootstrap of a median covers only
  0.90–0.94 at n = 5–20). With n < 6 no such j exists: the interval is [min, max] and its
  coverage, 1 − 2·2⁻ⁿ, is reported as less than 95 %.
- **Centre of a point**: the geometric mean of its R process medians,
  exp(mean_r log median_r) — each process counts once, however many samples it took.
- **Two-level bootstrap**: a replicate resamples R processes with replacement, then each
  chosen process's n_r samples with replacement, and takes the mean of the replicated
  processes' log medians. Percentiles of raw replicates undercover when R is small (with R
  top-level units a percentile interval cannot exceed 1 − 2·2⁻ᴿ coverage: 0.75 at R = 3),
  so deviations from the centre are scaled by

      k(R) = sqrt(R / (R − 1)) · t(R − 1, 0.975) / z(0.975)

  — the first factor undoes the bootstrap's (R − 1)/R shrinkage of the between-process
  variance, the second widens a normal interval to Student's t with R − 1 degrees of
  freedom (assumption: process log medians are roughly normal). The point's CI, and every
  speedup and crossover CI built from points, are percentiles of functions of these scaled
  replicates. With R = 1 the between-process term is unknown: the replicates are the
  within-process bootstrap alone, the point CI is the order-statistic interval, and the
  point is marked as having one process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

NOISY_IQR_FRACTION = 0.10  # a process is noisy when IQR / median exceeds this
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Stats:
    """Summary of the n timing samples of one process (milliseconds)."""

    n: int
    median: float
    mean: float
    std: float
    min: float
    max: float
    p10: float
    p25: float
    p75: float
    p90: float
    iqr: float
    ci_low: float
    ci_high: float
    ci_coverage: float  # the order-statistic interval's exact coverage (≥ 0.95 when n ≥ 6)
    rel_ci_halfwidth: float
    noisy: bool

    def as_dict(self) -> dict:
        return asdict(self)


def median_ci(samples, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Distribution-free CI of the median from order statistics: (low, high, coverage).

    Coverage of [X(j), X(n−j+1)] is 1 − 2·P(Binomial(n, ½) ≤ j − 1); j is the largest rank
    keeping it ≥ ``confidence``, or 1 (min, max) when n is too small for that.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("median_ci needs at least one sample")
    alpha = 1 - confidence
    # P(B ≤ j − 1) for j = 1..n//2; keep the last j with 2·P ≤ alpha.
    tails = scipy_stats.binom.cdf(np.arange(n // 2 + 1), n, 0.5)
    ok = np.nonzero(2 * tails <= alpha)[0]
    j = int(ok[-1]) + 1 if ok.size else 1
    coverage = 1 - 2 * float(scipy_stats.binom.cdf(j - 1, n, 0.5))
    return float(x[j - 1]), float(x[n - j]), coverage


def summarize(samples_ms) -> Stats:
    """Every statistic hyperf reports for the samples of one process."""
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("samples_ms must be a non-empty 1-D sequence of times")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples_ms must be finite")
    p10, p25, median, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    low, high, coverage = median_ci(x)
    iqr = p75 - p25
    return Stats(
        n=int(x.size),
        median=float(median),
        mean=float(x.mean()),
        std=float(x.std(ddof=1)) if x.size > 1 else 0.0,
        min=float(x.min()),
        max=float(x.max()),
        p10=float(p10),
        p25=float(p25),
        p75=float(p75),
        p90=float(p90),
        iqr=float(iqr),
        ci_low=low,
        ci_high=high,
        ci_coverage=coverage,
        rel_ci_halfwidth=float((high - low) / (2 * median)) if median > 0 else float("inf"),
        noisy=bool(median > 0 and iqr / median > NOISY_IQR_FRACTION),
    )


def centre(repeats: Sequence[Sequence[float]]) -> float:
    """The point's time: the geometric mean of its process medians (ms)."""
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


def log_replicates(
    repeats: Sequence[Sequence[float]], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """``resamples`` two-level bootstrap replicates of log(centre), already scaled by k(R).

    Pass one ``rng`` to every point of a comparison so their replicates are independent.
    """
    _check_repeats(repeats)
    arrays = [np.asarray(r, dtype=np.float64) for r in repeats]
    count = len(arrays)
    log_medians = np.empty((resamples, count))
    which = rng.integers(0, count, size=(resamples, count))
    # Resample within every process once per replicate, then pick processes: the same as
    # resampling within each picked process, because a picked process's resample is fresh
    # for each (replicate, slot) pair below.
    for slot in range(count):
        for r, x in enumerate(arrays):
            rows = np.nonzero(which[:, slot] == r)[0]
            if rows.size:
                picks = rng.integers(0, x.size, size=(rows.size, x.size))
                log_medians[rows, slot] = np.log(np.median(x[picks], axis=1))
    replicates = log_medians.mean(axis=1)
    estimate = math.log(centre(repeats))
    return estimate + inflation(count) * (replicates - estimate)


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
    """Centre and 95 % CI of a point from the raw samples of each of its processes."""
    _check_repeats(repeats)
    middle = centre(repeats)
    if len(repeats) == 1:
        low, high, _ = median_ci(repeats[0])
    else:
        replicates = log_replicates(repeats, resamples, np.random.default_rng(seed))
        tail = 100 * (1 - CONFIDENCE) / 2
        low, high = np.exp(np.percentile(replicates, [tail, 100 - tail]))
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
