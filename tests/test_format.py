"""hyperf.format: every number a person reads, at its edges (zero, rounding boundaries, missing
values) and as the report's committed files and tests pin it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hyperf.format import (
    DASH,
    achieved_gbps,
    achieved_tflops,
    format_bytes,
    format_cell,
    format_duration,
    format_interval,
    format_length,
    format_rate,
    format_seconds,
    format_speedup,
    is_missing,
    markdown_table,
    time_unit,
)

MISSING = [None, float("nan"), np.nan, np.float64("nan"), pd.NA, pd.NaT]


@pytest.mark.parametrize("value", MISSING)
def test_missing_values_read_as_a_dash(value):
    assert is_missing(value)
    for shown in (format_seconds, format_length, format_bytes, format_cell):
        assert shown(value) == DASH
    assert format_rate(value, "GB/s") == DASH
    assert format_interval(value, 1.0) == format_interval(1.0, value) == DASH
    assert format_speedup(value, 1.0, 2.0) == DASH


@pytest.mark.parametrize("value", [0, 0.0, "", "nan", False, [float("nan")]])
def test_present_values_are_not_missing(value):
    assert not is_missing(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (517e-6, "517 µs"),
        (1.5e-3, "1.5 ms"),
        (2.0, "2 s"),
        (42e-9, "42 ns"),
        (0.25e-9, "0.25 ns"),
        (0.99949, "999 ms"),
        (0.99995, "1 s"),  # rounds up to 1000 ms: shown in the next unit, never '1e+03 ms'
        (999.95e-6, "1 ms"),
        (999.95e-9, "1 µs"),
        (999.4e-6, "999 µs"),
        (-2e-3, "-2 ms"),
    ],
)
def test_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_seconds_digits_and_units():
    assert format_seconds(0.99994, 4) == "999.9 ms"  # 4 digits: still below 1000 ms
    assert format_seconds(0.9999995, 4) == "1 s"
    assert format_seconds(1.23456e-3, 4) == "1.235 ms"
    assert time_unit(0) == (1.0, "s") and time_unit(5e-3) == (1e3, "ms")
    assert time_unit(2.0) == (1.0, "s") and time_unit(1e-12) == (1e9, "ns")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0 s"),
        (0.25, "0.2 s"),
        (42, "42 s"),
        (59.99, "60 s"),
        (60, "1.0 min"),
        (90, "1.5 min"),
        (3 * 3600, "3.0 h"),
        (36 * 3600, "1.5 days"),
        (400 * 86400, "1.1 years"),
        (15771432774.3 * 60, "29,986 years"),
    ],
)
def test_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (256, "256"),
        (512, "512"),
        (1000, "1000"),
        (1023.4, "1023"),
        (1023.6, "1K"),  # rounds to 1024
        (1024, "1K"),
        (1024.0, "1K"),
        (np.int64(4096), "4K"),
        (1280, "1280"),  # whole, and 1.25K does not fit one decimal: exact
        (1536, "1.5K"),
        (5000, "5000"),
        (5000.3, "4.9K"),  # an interpolated crossover: a tenth of a K
        (16384, "16K"),
        (65536, "64K"),
        (2**20, "1M"),
        (3 * 2**20, "3M"),
        (1.5 * 2**20, "1536K"),
    ],
)
def test_length(n, text):
    assert format_length(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (999, "999 B"),
        (1000, "0.977 KiB"),  # not '1e+03 B'
        (1024, "1 KiB"),
        (4096, "4 KiB"),
        (2**20, "1 MiB"),
        (1023.9 * 2**10, "1 MiB"),
        (1.5 * 2**30, "1.5 GiB"),
        (2**50, "1.02e+03 TiB"),  # the largest unit takes any size
    ],
)
def test_bytes(n, text):
    assert format_bytes(n) == text


def test_rates_are_one_computation_and_format():
    assert achieved_tflops(2e12, 0.5) == 4.0 and achieved_gbps(3e9, 2.0) == 1.5
    series = achieved_tflops(pd.Series([1e12, 2e12]), pd.Series([1.0, 0.5]))
    assert series.tolist() == [1.0, 4.0]
    assert format_rate(1234.56e9, "GB/s") == "1,234.6 GB/s"
    assert format_rate(0, "TFLOP/s") == "0.0 TFLOP/s"
    assert format_rate(50e9, "GFLOP/s") == "50.0 GFLOP/s"


def test_intervals_and_speedups():
    assert format_interval(4150.3, 8800.5, format_length) == "4.1K–8.6K"
    assert format_interval(4096.2, 8800.0, format_length) == "4K–8800"
    assert format_interval(1.0, 2.0) == "1.0–2.0"
    assert format_speedup(7.19, 4.5449, 11.13) == "7.19× (4.54–11.13)"
    assert format_speedup(2.0, None, 3.0) == "2.00× (—)"


def test_cells():
    assert format_cell(3.0) == "3" and format_cell(0.0) == "0" and format_cell(-2.0) == "-2"
    assert format_cell(1234.5) == "1.23e+03" and format_cell(1234.5, "{:.1f}") == "1234.5"
    assert format_cell(2e15) == "2e+15"  # too large to print as an integer
    assert format_cell(7) == "7" and format_cell("a|b") == "a|b" and format_cell(True) == "True"
    assert format_cell(math.inf) == "inf"


def test_markdown_table():
    frame = pd.DataFrame(
        {"name": ["a|b", None], "n": [1, 2], "ms": [0.5, float("nan")], "L": [1024.0, 2.5]}
    )
    assert markdown_table(frame, "{:.2f}").splitlines() == [
        "| name | n | ms | L |",
        "|---|---|---|---|",
        "| a\\|b | 1 | 0.50 | 1024 |",
        "| — | 2 | — | 2.50 |",
    ]
    assert markdown_table(frame.iloc[:0]) == ""
