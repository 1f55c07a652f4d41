"""Statistics of timing samples, as pure functions.

Timing samples are right-skewed (interrupts, cache misses, frequency changes add time, nothing
removes it), so the centre is the median and its uncertainty comes from resampling, not from a
normal approximation:

- quantiles: linear interpolation between order statistics (numpy's default);
- 95% CI of the median: the percentile bootstrap — draw B resamples of the n samples with
  replacement, take each resample's median, report the 2.5th and 97.5th percentiles of those
  B medians. Seeded, so the same samples always give the same interval;
- relative CI half-width: (hi − lo) / (2·median), the stopping criterion of the timer;
- noisy: IQR / median > 10%.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

NOISY_IQR_FRACTION = 0.10


@dataclass(frozen=True)
class Stats:
    """Summary of n timing samples (milliseconds)."""

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
    rel_ci_halfwidth: float
    noisy: bool

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_median_ci(
    samples: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 1:
        return float(samples[0]), float(samples[0])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, samples.size, size=(resamples, samples.size))
    medians = np.median(samples[picks], axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def summarize(samples_ms, seed: int = 0, confidence: float = 0.95, resamples: int = 2000) -> Stats:
    """Every statistic hyperf reports for one point."""
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("samples_ms must be a non-empty 1-D sequence of times")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples_ms must be finite")
    p10, p25, median, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    low, high = bootstrap_median_ci(x, confidence, resamples, seed)
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
        rel_ci_halfwidth=float((high - low) / (2 * median)) if median > 0 else float("inf"),
        noisy=bool(median > 0 and iqr / median > NOISY_IQR_FRACTION),
    )
