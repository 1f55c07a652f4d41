"""Times shown to people: one unit per series (s, ms, µs or ns), so that a table column or a
figure axis reads as numbers between 1 and 1000. Imports nothing heavy."""

from __future__ import annotations

UNITS = ((1.0, "s"), (1e3, "ms"), (1e6, "µs"))


def time_unit(seconds: float) -> tuple[float, str]:
    """(factor, unit) that shows ``seconds`` as a number between 1 and 1000."""
    for factor, unit in UNITS:
        if seconds * factor >= 1:
            return factor, unit
    return 1e9, "ns"


def format_seconds(seconds: float) -> str:
    """``seconds`` in its own unit, to 3 significant digits (e.g. '517 µs')."""
    factor, unit = time_unit(seconds)
    return f"{seconds * factor:.3g} {unit}"
