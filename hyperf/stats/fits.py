"""Curve fits over measured points, as pure functions documented by their maths and
assumptions: a power law t ≈ a·x^b, a straight line, and the interval of a line's slope.

**Power law** (``fit_power_law``): least squares on (log x, log t), so relative errors weigh
the same at 1 µs and 1 s; b is the slope, a the exponent of the intercept, R² the usual
coefficient of determination of that linear fit (1 when t is constant).

**Line** (``linear_fit``): ordinary least squares t = c₀ + c₁·x, with its R².

**Slope interval** (``slope_interval``): see its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from hyperf.stats.sample import CONFIDENCE, percentile_interval

SLOPE_DRAWS = 2000


@dataclass(frozen=True)
class PowerLaw:
    a: float
    b: float
    r2: float
    n: int


def fit_power_law(x, t) -> PowerLaw:
    """t ≈ a·x^b by least squares on logs; NaNs when x has fewer than two distinct values."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(t, float))
    if lx.size < 2 or np.ptp(lx) == 0:
        return PowerLaw(float("nan"), float("nan"), float("nan"), int(lx.size))
    b, log_a = np.polyfit(lx, ly, 1)
    residual = ly - (log_a + b * lx)
    total = ((ly - ly.mean()) ** 2).sum()
    r2 = 1 - (residual**2).sum() / total if total > 0 else 1.0
    return PowerLaw(float(math.exp(log_a)), float(b), float(r2), int(lx.size))


def linear_fit(x, y) -> tuple[float, float, float]:
    """(slope, intercept, R²) of the least-squares line y = intercept + slope·x."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    fitted = intercept + slope * np.asarray(x, float)
    total = ((np.asarray(y) - np.mean(y)) ** 2).sum()
    r2 = 1 - ((np.asarray(y) - fitted) ** 2).sum() / total if total > 0 else 1.0
    return float(slope), float(intercept), float(r2)


def slope_interval(
    x, median, ci_low, ci_high, seed: int = 0, level: float = CONFIDENCE
) -> tuple[float, float]:
    """Interval at ``level`` of the least-squares slope of ``median`` over ``x``, given each
    point's CONFIDENCE interval [ci_low, ci_high].

    Two sources of uncertainty, the wider one wins:
    - each point's own: a parametric bootstrap that redraws every point from a normal whose
      CONFIDENCE interval is the point's (sd = (high − low) / (2·z), z the normal quantile at
      (1 + CONFIDENCE)/2) and refits;
    - the line's misfit, with ≥ 3 distinct levels: the ordinary least-squares t interval
      (residual scatter the points' intervals do not explain, e.g. a non-linear trend).
    Assumes independent points and roughly symmetric per-point intervals.
    """
    x = np.asarray(x, float)
    y = np.asarray(median, float)
    width = 2 * scipy_stats.norm.ppf(0.5 + CONFIDENCE / 2)  # 3.92 at 95 %
    sd = np.maximum((np.asarray(ci_high, float) - np.asarray(ci_low, float)) / width, 0.0)
    sd = np.where(np.isfinite(sd), sd, 0.0)
    rng = np.random.default_rng(seed)
    draws = y + rng.standard_normal((SLOPE_DRAWS, len(y))) * sd
    centred = x - x.mean()
    slopes = draws @ centred / (centred @ centred)
    low, high = percentile_interval(slopes, level)
    if len(np.unique(x)) >= 3 and len(x) > 2:
        fit = scipy_stats.linregress(x, y)
        half = scipy_stats.t.ppf(1 - (1 - level) / 2, len(x) - 2) * fit.stderr
        low, high = min(low, fit.slope - half), max(high, fit.slope + half)
    return float(low), float(high)
