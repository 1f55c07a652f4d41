"""Every number a person reads, as text, defined once: times, wall-clock durations, sequence
lengths, bytes, rates, intervals, table cells and Markdown tables — plus the one computation
of a rate (TFLOP/s, GB/s) from a count and a time.

A missing value (None, NaN, NaT, pandas' NA) reads as ``DASH`` everywhere. Imports nothing
heavy: the ``hyperf bench`` commands load it without pandas or torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DASH = "—"


def is_missing(value: Any) -> bool:
    """None, NaN (float or numpy), NaT or pandas' NA."""
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(value != value)  # only NaN and NaT differ from themselves
    except TypeError:  # pandas' NA: its comparisons are NA, which has no truth value
        return True


# --- times ---------------------------------------------------------------------------------

TIME_UNITS = ((1.0, "s"), (1e3, "ms"), (1e6, "µs"), (1e9, "ns"))  # largest first


def time_unit(seconds: float) -> tuple[float, str]:
    """(factor, unit) that shows ``seconds`` as a number from 1 to below 1000 (ns below 1 ns,
    s for 0 and from 1 s up), so a table column or figure axis of similar times reads well."""
    if seconds == 0:
        return TIME_UNITS[0]
    for factor, unit in TIME_UNITS:
        if abs(seconds) * factor >= 1:
            return factor, unit
    return TIME_UNITS[-1]


def format_seconds(seconds: float | None, digits: int = 3) -> str:
    """A measured time in its own unit to ``digits`` significant digits: '517 µs', '1.5 ms'.
    A time that rounds up to 1000 of a unit is shown in the next unit ('1 s', not '1e+03 ms')."""
    if is_missing(seconds):
        return DASH
    factor, unit = time_unit(seconds)
    text = f"{seconds * factor:.{digits}g}"
    if abs(float(text)) >= 1000 and unit != TIME_UNITS[0][1]:
        factor, unit = TIME_UNITS[[u for _, u in TIME_UNITS].index(unit) - 1]
        text = f"{seconds * factor:.{digits}g}"
    return f"{text} {unit}"


DURATION_UNITS = (("years", 365.25 * 86400), ("days", 86400.0), ("h", 3600.0), ("min", 60.0))


def format_duration(seconds: float) -> str:
    """A wall-clock span (a sweep's predicted time) in the largest unit that fits (s, min, h,
    days, years): one decimal below 10, whole numbers with separators above, so 9.46e11 s reads
    '29,986 years' rather than '15771432774.3 min'. Not for measured kernel times
    (``format_seconds``): spans are read to a tenth of their unit, never in ms."""
    unit, size = next(((u, s) for u, s in DURATION_UNITS if seconds >= s), ("s", 1.0))
    value = seconds / size
    return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"


# --- lengths and bytes ---------------------------------------------------------------------


def format_length(n: float | None) -> str:
    """A sequence length, K = 1024 and M = 2²⁰: 512, 1K, 1.5K, 16K, 1M.

    A whole number is exact: it takes K (or M) only where one decimal says it exactly (1536 →
    1.5K, but 1000 and 1280 stay as they are); a fractional one (an interpolated crossover)
    is rounded to a tenth of a K (5000.3 → 4.9K)."""
    if is_missing(n):
        return DASH
    n = float(n)
    small = f"{n:.0f}"
    if abs(float(small)) < 1024:
        return small
    for size, suffix in ((2**20, "M"), (1024, "K")):
        if n.is_integer() and n % size == 0:
            return f"{int(n) // size}{suffix}"
    if n.is_integer() and (n * 10) % 1024:
        return f"{n:.0f}"
    return f"{n / 1024:.1f}".removesuffix(".0") + "K"


BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(n: float | None) -> str:
    """Bytes in binary units to 3 significant digits: 512 B, 4 KiB, 1 MiB, 1.5 GiB (a value
    that would round to 1000 or more of a unit is shown in the next: 0.977 MiB, not 1e+03 KiB)."""
    if is_missing(n):
        return DASH
    value = float(n)
    for unit in BYTE_UNITS:
        if abs(value) < 999.5 or unit == BYTE_UNITS[-1]:
            return f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# --- rates ---------------------------------------------------------------------------------

RATE_SCALES = {"TFLOP/s": 1e12, "GFLOP/s": 1e9, "GB/s": 1e9}


def achieved_tflops(flops, seconds):
    """Achieved TFLOP/s: ``flops`` / ``seconds`` / 10¹² (scalars, arrays or Series alike)."""
    return flops / seconds / 1e12


def achieved_gbps(nbytes, seconds):
    """Achieved GB/s: ``nbytes`` / ``seconds`` / 10⁹ (scalars, arrays or Series alike)."""
    return nbytes / seconds / 1e9


def format_rate(per_second: float | None, unit: str) -> str:
    """A rate given per second, in ``unit`` (a key of ``RATE_SCALES``): '1,234.5 GB/s'."""
    if is_missing(per_second):
        return DASH
    return f"{per_second / RATE_SCALES[unit]:,.1f} {unit}"


# --- intervals and cells -------------------------------------------------------------------


def format_interval(low, high, show: Callable[[Any], str] = str) -> str:
    """A confidence interval as 'low–high' (en dash), each end through ``show``; ``DASH``
    when either end is missing."""
    if is_missing(low) or is_missing(high):
        return DASH
    return f"{show(low)}–{show(high)}"


def format_speedup(speedup, low, high) -> str:
    """A speedup with its interval: '2.53× (0.93–3.90)'; ``DASH`` when missing."""
    if is_missing(speedup):
        return DASH
    return f"{speedup:.2f}× ({format_interval(low, high, '{:.2f}'.format)})"


def format_cell(value, floats: str = "{:.3g}") -> str:
    """A table cell: ``DASH`` for missing, whole floats as integers (counts come back from
    SQLite as floats), other floats through ``floats``, anything else as ``str``."""
    if is_missing(value):
        return DASH
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else floats.format(value)
    return str(value)


def markdown_table(frame: pd.DataFrame, floats: str = "{:.3g}") -> str:
    """``frame`` as a GitHub Markdown table, every cell through ``format_cell`` and '|'
    escaped; "" when it has no rows."""
    if frame.empty:
        return ""

    def text(value) -> str:
        return format_cell(value, floats).replace("|", "\\|")

    lines = ["| " + " | ".join(map(text, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    rows = ("| " + " | ".join(map(text, row)) + " |" for row in frame.itertuples(index=False))
    return "\n".join([*lines, *rows])
