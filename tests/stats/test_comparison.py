"""The gate's statistics for many benchmarks and for history (hyperf.stats.comparison)."""

from __future__ import annotations

import numpy as np
import pytest

from hyperf.stats.comparison import history_ratio, holm_adjusted


def test_holm_adjustment_on_a_worked_example():
    # Four tests: sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04,
    # then made monotone (0.04 → 0.06); returned in the input's order.
    assert holm_adjusted([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjusted([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm_adjusted([]) == []


def test_history_ratio_is_calibrated_under_its_model():
    """Fresh runs drawn from the model itself (σ = 0.05 between runs, 8 runs of history):
    the 99 % interval of two more runs' ratio holds 1 in about 99 % of 4,000 trials; the
    binomial SD at 4,000 is 0.16 %, so below 98.4 % would be a 4-SD miss."""
    rng = np.random.default_rng()
    hits = 0
    for _ in range(4000):
        history = rng.normal(0, 0.05, 8)
        spread = float(np.std(history, ddof=1))
        base, new = rng.normal(0, 0.05, 2)
        _, low, high, _ = history_ratio(base, new, spread, 7, 0.99)
        hits += low <= 1 <= high
    assert hits / 4000 >= 0.984
