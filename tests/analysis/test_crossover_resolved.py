"""A crossover is reported with its interval only when the data resolve it (issue 15: no
"1407 (95 % CI 501–1552)" reaching beyond the lengths that bracket it)."""

from __future__ import annotations

import numpy as np

from hyperf.analysis.crossover import crossover, resolved

LENGTHS = [256, 512, 1024, 2048, 4096, 8192]


def _samples(times, spread, rng):
    """Three processes of 20 samples around each time, lognormal with ``spread``."""
    return [[list(t * np.exp(rng.normal(0, spread, 20))) for _ in range(3)] for t in times]


def test_clean_crossing_is_measured_with_an_interval_inside_its_brackets():
    rng = np.random.default_rng()
    hyena = [1.0 * n / 256 for n in LENGTHS]  # linear
    attention = [0.1 * (n / 256) ** 2 for n in LENGTHS]  # quadratic: crosses near 2560
    result = crossover(LENGTHS, _samples(hyena, 0.02, rng), _samples(attention, 0.02, rng),
                       "hyena:fft", "attention:sdpa-math")  # fmt: skip
    assert result.seq_len is not None and result.note == "measured"
    assert 1024 <= result.ci_low <= result.seq_len <= result.ci_high <= 8192


def test_noisy_flat_difference_is_not_resolved():
    """Two series within a few percent of each other at every length, with 30 % noise: the
    medians may cross, but the replicates cross anywhere, so no number is given."""
    rng = np.random.default_rng()
    base = [n / 256 for n in LENGTHS]
    hyena = [t * f for t, f in zip(base, [1.03, 1.02, 1.01, 0.99, 0.98, 0.97], strict=True)]
    result = crossover(LENGTHS, _samples(hyena, 0.3, rng), _samples(base, 0.3, rng),
                       "hyena:fft", "attention:sdpa-math")  # fmt: skip
    assert result.seq_len is None and result.ci_low is None
    assert result.note.startswith("not resolved") or "already faster" in result.note


def test_resolved_rule():
    assert resolved(LENGTHS, 1500, 1100, 1900, 1.0)
    assert resolved(LENGTHS, 1500, 600, 3000, 1.0)  # neighbours of the 1K–2K bracket
    assert not resolved(LENGTHS, 1500, 400, 1900, 1.0)  # reaches below 512
    assert not resolved(LENGTHS, 1500, 1100, 1900, 0.9)  # 10 % of replicates never cross
    assert not resolved(LENGTHS, 1500, None, None, 0.0)


def test_exponents_outside_the_expected_range_are_flagged_with_a_reason():
    from hyperf.analysis.crossover import exponent_flag

    assert exponent_flag("hyena", 1.05)[1] == ""
    assert "fixed per-call costs" in exponent_flag("hyena", 0.8)[1]  # the quick run's 0.73–0.87
    assert "fixed per-call costs" in exponent_flag("attention", 1.2)[1]
    assert exponent_flag("attention", 1.9)[1] == ""
    assert "cache or memory" in exponent_flag("attention", 2.6)[1]
