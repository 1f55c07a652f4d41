"""Crossover, bootstrap and power-law fits on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from hyperf.analysis.crossover import bootstrap_crossing, crossover, interpolate_crossing
from hyperf.stats.fits import fit_power_law

LENGTHS = [256, 512, 1024, 2048, 4096, 8192]


def test_power_law_fit_recovers_exponent():
    rng = np.random.default_rng()
    a, b = rng.uniform(1e-4, 1e-2), rng.uniform(0.8, 2.2)
    fit = fit_power_law(LENGTHS, [a * n**b for n in LENGTHS])
    assert fit.b == pytest.approx(b, rel=1e-9) and fit.a == pytest.approx(a, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0)


def test_crossing_of_two_power_laws_is_exact_in_log_log():
    # hyena: 0.5·L ms; attention: 1e-4·L² ms → equal at L = 5000
    hyena = [0.5 * n for n in LENGTHS]
    attention = [1e-4 * n**2 for n in LENGTHS]
    assert interpolate_crossing(LENGTHS, hyena, attention) == pytest.approx(5000, rel=1e-9)
    assert interpolate_crossing(LENGTHS, attention, hyena) is None  # never stops being faster


def _processes(rng, ms: float, between: float, within: float = 0.01, count: int = 3):
    return [
        list(ms * np.exp(rng.normal(0, between) + rng.normal(0, within, size=30)))
        for _ in range(count)
    ]


def test_bootstrap_ci_brackets_the_crossing():
    rng = np.random.default_rng(3)
    hyena = [_processes(rng, 0.5 * n, 0.0) for n in LENGTHS]
    attention = [_processes(rng, 1e-4 * n**2, 0.0) for n in LENGTHS]
    low, high, share = bootstrap_crossing(LENGTHS, hyena, attention)
    assert low < 5000 < high and share == 1.0
    result = crossover(LENGTHS, hyena, attention, "hyena:fft", "attention:naive")
    assert not result.extrapolated and result.ci_low <= result.seq_len <= result.ci_high


def test_crossover_interval_carries_between_process_variation():
    """Processes that disagree by 5 % widen the crossing's interval; the same within-process
    noise alone leaves it narrow. Over fresh data the wide one covers the true L = 5000."""
    rng = np.random.default_rng()
    widths, covered = {}, 0
    for between in (0.0, 0.05):
        hyena = [_processes(rng, 0.5 * n, between) for n in LENGTHS]
        attention = [_processes(rng, 1e-4 * n**2, between) for n in LENGTHS]
        low, high, _ = bootstrap_crossing(LENGTHS, hyena, attention, resamples=400)
        widths[between] = np.log(high / low)
    assert widths[0.05] > 3 * widths[0.0]
    for _ in range(40):
        hyena = [_processes(rng, 0.5 * n, 0.05) for n in LENGTHS]
        attention = [_processes(rng, 1e-4 * n**2, 0.05) for n in LENGTHS]
        low, high, _ = bootstrap_crossing(LENGTHS, hyena, attention, resamples=300)
        covered += low <= 5000 <= high
    assert covered / 40 >= 0.85


def test_no_crossing_in_range_is_extrapolated_from_the_fits():
    hyena = [[[5.0 * n]] for n in LENGTHS]  # crosses 1e-4·L² only at L = 50 000
    attention = [[[1e-4 * n**2]] for n in LENGTHS]
    result = crossover(LENGTHS, hyena, attention, "hyena:fft", "attention:naive")
    assert result.extrapolated and result.seq_len == pytest.approx(50_000, rel=1e-6)
    assert result.ci_low is None and "extrapolated" in result.note


def test_fits_that_cannot_carry_an_extrapolation_give_no_number():
    """Launch-bound times (flat in L, noisy) against a slowly growing attention: the fits'
    exponents differ by almost nothing, so where they meet is noise; and well-fitted lines
    that meet far beyond the data are not extrapolated that far either."""
    rng = np.random.default_rng()
    flat = [[[2.0 + 0.1 * rng.standard_normal()]] for _ in LENGTHS]
    slow = [[[0.5 * n**0.1]] for n in LENGTHS]  # slower growth than the noise's slope error
    loose = crossover(LENGTHS, flat, slow, "hyena:triton", "attention:sdpa-flash")
    assert loose.seq_len is None and "too loose" in loose.note
    hyena = [[[50.0 * n]] for n in LENGTHS]  # meets 1e-4·L² at L = 500 000, 61× beyond 8192
    attention = [[[1e-4 * n**2]] for n in LENGTHS]
    far = crossover(LENGTHS, hyena, attention, "hyena:fft", "attention:naive")
    assert far.seq_len is None and "beyond" in far.note and not far.extrapolated


def test_fits_whose_exponents_say_overhead_give_no_number():
    """Hyena growing as L^0.8 (fixed per-call costs still weigh) against attention as L^1.25:
    the lines meet within reach, but neither exponent is the family's, so where they meet
    is not where the operators will; no number, and the reason."""
    hyena = [[[0.4 * n**0.8]] for n in LENGTHS]
    attention = [[[0.004 * n**1.25]] for n in LENGTHS]
    result = crossover(LENGTHS, hyena, attention, "hyena:fft", "attention:sdpa-flash")
    assert result.seq_len is None and not result.extrapolated
    assert "outside their expected ranges" in result.note and "0.80" in result.note


def test_already_faster_and_never_meeting():
    faster = crossover(LENGTHS, [[[1.0]]] * 6, [[[2.0 * n]] for n in LENGTHS], "h", "a")
    assert faster.seq_len is None and "already faster" in faster.note
    parallel = crossover(
        LENGTHS, [[[2.0 * n]] for n in LENGTHS], [[[1.0 * n]] for n in LENGTHS], "h", "a"
    )
    assert parallel.seq_len is None and "never meet" in parallel.note
