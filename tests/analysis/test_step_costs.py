"""Per-step costs (time per layer, per order step) carry an interval and are only called
resolved where the data support them (issue 15: no line through two noisy points, no negative
cost shown as a result)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hyperf.analysis.scaling import step_costs
from hyperf.stats.fits import slope_interval


def test_interval_covers_the_true_slope_about_95_percent_of_the_time():
    rng = np.random.default_rng()
    covered = 0
    trials = 300
    for _ in range(trials):
        slope = rng.uniform(0.1, 5.0)
        x = np.array([1.0, 2.0, 3.0, 4.0])
        sd = rng.uniform(0.05, 0.5, size=4)
        y = 2.0 + slope * x + rng.standard_normal(4) * sd
        low, high = slope_interval(x, y, y - 1.96 * sd, y + 1.96 * sd, seed=int(rng.integers(1e9)))
        covered += low <= slope <= high
    assert 0.88 <= covered / trials <= 1.0


def _points(levels, medians, half_widths, axis="depth"):
    rows = []
    for level, median, half in zip(levels, medians, half_widths, strict=True):
        rows.append(
            {
                "run_id": 1, "op": "hyena:fft", "family": "hyena", "mode": "fwd",
                "seq_len": 1024, "d_model": 64, "batch": 1, "dtype": "float32",
                "depth": level if axis == "depth" else 1,
                "hyena_order": level if axis == "hyena_order" else 2,
                "variant": "safari", "causal": 1, "status": "ok", "median_ms": median,
                "ci_low_ms": median - half, "ci_high_ms": median + half,
                "interpreted": 0, "contended": 0, "correct": 1,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_two_noisy_levels_are_not_resolved_and_negative_costs_never_are():

    noisy = step_costs(_points([1, 2], [10.0, 10.5], [2.0, 2.0]), "depth").iloc[0]
    assert not noisy["resolved"] and noisy["ci_low_ms"] < 0 < noisy["ci_high_ms"]
    assert np.isnan(noisy["r2"])  # R² of a line through two points means nothing
    clear = step_costs(_points([1, 2], [10.0, 20.0], [0.5, 0.5]), "depth").iloc[0]
    assert clear["resolved"] and 8 < clear["ci_low_ms"] < 10 < clear["ci_high_ms"] < 12
    order = _points([2, 3, 4], [10.0, 9.0, 8.1], [0.1] * 3, axis="hyena_order")
    negative = step_costs(order, "hyena_order")
    assert not negative.iloc[0]["resolved"]
    three = step_costs(_points([1, 2, 3], [10.0, 11.0, 12.2], [3.0] * 3), "depth").iloc[0]
    assert three["resolved"] and three["ci_low_ms"] < 0  # shown, with an honest interval
