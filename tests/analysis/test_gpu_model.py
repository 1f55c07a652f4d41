"""The calibrated GPU model parts: data coverage, growth laws, held-out errors, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyperf.analysis import gpu_model as gm
from hyperf.analysis.validation import H100_MEASURED


@pytest.fixture(scope="module")
def fitted() -> dict[str, dict[str, float]]:
    return gm.fitted_parameters()


def test_every_published_row_is_mapped_or_listed_with_a_reason():
    gemm, fft = gm.load_gemm(), gm.load_fft()
    attention, unmapped = gm.load_attention()
    assert len(gemm) == 375 and gemm.seconds.gt(0).all()
    assert len(fft) == 9 and fft.seconds.gt(0).all()
    assert len(attention) + len(unmapped) == 120
    assert set(unmapped.impl) == {"pytorch"} and unmapped.reason.str.contains("memory").all()
    # ms_derived is the published tflops turned back into time: the FLOP convention matches
    assert np.allclose(attention.seconds * 1e3, attention.ms_derived.astype(float), rtol=2e-3)
    table = gm.validation_table()
    in_sample = table[table.scheme == "in-sample"]
    assert in_sample.groupby("source").size().to_dict() == {
        "gemm_h100_bf16_xla": 375,
        "attention_a100_fa2": 116,
        "flashfftconv_h100": 9,
    }


def test_attention_core_grows_as_l_squared_at_large_l(fitted):
    p = fitted["attention"]
    for impl in gm.IMPLEMENTATIONS:
        t1, t2 = (gm.attention_time(p, impl, 1, 16, L, 128, True) for L in (2**17, 2**18))
        assert t2 / t1 == pytest.approx(4.0, rel=0.01)


def test_fft_conv_grows_as_n_log_n_at_large_n(fitted):
    p = fitted["fft"]
    n = 2**24
    ratio = gm.fft_conv_time(p, 4 * n) / gm.fft_conv_time(p, n)
    a, b = gm.FFT_BYTES_ELEMENTWISE, gm.FFT_BYTES_PER_PASS / p["levels"]
    n_log_n = 4 * (a + b * math.log2(4 * n)) / (a + b * math.log2(n))
    assert ratio == pytest.approx(n_log_n, rel=0.01)
    assert ratio > 4.0  # the log factor: faster than linear


def test_gemm_time_is_monotone_in_every_dimension(fitted):
    p = fitted["gemm"]
    sizes = np.array([64, 256, 1024, 4096, 16384])
    for axis in range(3):
        shapes = np.full((len(sizes), 3), 1024)
        shapes[:, axis] = sizes
        times = gm.gemm_time(p, *shapes.T)
        assert np.all(np.diff(times) > 0)
    assert p["e_max"] <= 1.0


def test_held_out_errors_are_reported_and_finite():
    s = gm.summary()
    held = s[s.held_out]
    assert set(held.source) == {"gemm_h100_bf16_xla", "attention_a100_fa2", "flashfftconv_h100"}
    for column in ("median", "p90", "worst"):
        assert np.isfinite(s[column]).all()
    # comfortable bounds only (the measured values are well inside them)
    assert held["median"].max() < 30.0


@pytest.mark.skipif(not H100_MEASURED.exists(), reason="needs the source checkout's reports/")
def test_whole_model_beats_the_old_roofline_on_hyperfs_own_h100_runs():
    """hyperf's own H100 times, never used for fitting: ``hyperf predict`` must be closer to them
    than the datasheet roofline it replaced (whose predictions the CSV kept), point by point on
    the median |log ratio|."""
    import pandas as pd

    from hyperf.analysis.validation import _h100_rows

    model = pd.concat(_h100_rows(), ignore_index=True)
    roofline = pd.read_csv(H100_MEASURED).drop_duplicates(["op", "mode", "seq_len", "batch"])
    assert len(model) == len(roofline) > 40
    model_error = np.abs(np.log(model.predicted_ms / model.published_ms)).median()
    roofline_error = np.abs(np.log(roofline.predicted_ms / roofline.measured_ms)).median()
    assert model_error < roofline_error / 2


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda p: gm.attention_time(p["attention"], "flash3", 1, 1, 1024, 64, True), "impl"),
        (lambda p: gm.attention_time(p["attention"], "FA2", 1, 1, 0, 64, True), "seq_len"),
        (lambda p: gm.gemm_time(p["gemm"], 128, -1, 128), "m, n, k"),
        (lambda p: gm.fft_conv_time(p["fft"], 0), "n"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(fitted, call, name):
    with pytest.raises(ValueError, match=name):
        call(fitted)
