"""Statistics of the timing samples of one process, as pure functions documented by their
maths and assumptions.

Timing samples are right-skewed (interrupts, cache misses, frequency changes add time, nothing
removes it), so the centre is a median and its uncertainty never comes from a normal
approximation of the raw samples.

**The median's CI within one process** is the distribution-free order-statistic interval
[X(j), X(n−j+1)], j the largest rank with P(Binomial(n, ½) < j) ≤ (1 − CONFIDENCE)/2. It holds
for any continuous distribution, assuming only that the samples are exchangeable (the
percentile bootstrap of a median covers only 0.90–0.94 at n = 5–20). With n < 6 no such j
exists at 95 %: the interval is [min, max] and its coverage, 1 − 2·2⁻ⁿ, is reported as less
than 95 %. Samples of one process share its state, so this interval says nothing about how
far another process lands: ``hyperf.stats.bootstrap`` handles several processes.

``CONFIDENCE`` is the level of every interval hyperf reports (the regression gate's is its own
1 − alpha, a setting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95  # the level of every reported interval
NOISY_IQR_FRACTION = 0.10  # a process is noisy when IQR / median exceeds this


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


def percentile_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The equal-tailed percentile interval of bootstrap replicates ``values``: their
    (1 − confidence)/2 and (1 + confidence)/2 quantiles (linear interpolation)."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
