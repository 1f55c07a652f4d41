"""The headline table as text cells, for the report, its Markdown and the CLI alike."""

from __future__ import annotations

import pandas as pd

from hyperf import registry
from hyperf.format import format_interval, format_length, format_speedup
from hyperf.report.style import attention_label


def _crossover(row) -> str:
    searched = getattr(row, "searched", None)
    if isinstance(searched, str) and searched:  # read to the token, with how it was found
        if row.crossover_L is None or pd.isna(row.crossover_L):
            return f"{row.note or 'not resolved'}; {searched}"
        interval = format_interval(row.ci_low, row.ci_high, "{:,.0f}".format)
        wider = f", {row.note}" if isinstance(row.note, str) and row.note else ""
        return f"{row.crossover_L:,.0f} ({interval}{wider}); {searched}"
    if row.crossover_L is None or pd.isna(row.crossover_L):
        note = row.note if isinstance(row.note, str) and row.note else "no crossover measured"
        return note
    if row.extrapolated:
        return f"≈ {format_length(row.crossover_L)} (extrapolated; {row.note})"
    interval = format_interval(row.ci_low, row.ci_high, format_length)
    return f"{format_length(row.crossover_L)} ({interval})"


def _speedup(row) -> str:
    if row.speedup is None or pd.isna(row.speedup):
        return "—"
    flag = getattr(row, "noisy", None)
    noisy = " (noisy)" if flag is not None and not pd.isna(flag) and bool(flag) else ""
    speedup = format_speedup(row.speedup, row.speedup_low, row.speedup_high)
    return f"{speedup} at L={format_length(row.longest_L)}{noisy}"


def headline_cells(table: pd.DataFrame) -> pd.DataFrame:
    """One text row per headline row: who against whom, in which setting, the crossover and
    the speedup at the longest L, each with its 95 % interval (> 1×: Hyena is faster)."""
    rows = []
    for row in table.itertuples(index=False):
        rows.append(
            {
                "Hyena": _subquadratic(row.hyena, row.order),
                "attention": attention_label(row.attention, row.causal),
                "mode": row.mode,
                "exec": row.exec,
                "setting": f"depth {row.depth}, D={row.d_model}, B={row.batch}, {row.dtype}",
                "crossover L (95 % CI)": _crossover(row),
                "speedup at the longest L (95 % CI)": _speedup(row) + _overhead(row),
            }
        )
    return pd.DataFrame(rows)


def _subquadratic(op: str, order) -> str:
    """The subquadratic side: a Hyena with its order; another family (a state-space mixer)
    by name, its order being no parameter of it."""
    entry = registry.lookup(op)
    return f"{op} (order {order})" if entry is None or entry.family == "hyena" else op


def _overhead(row) -> str:
    """ "; overhead-bound (Hyena)" when a side of that speedup is launch/Python-bound."""
    side = getattr(row, "overhead_bound", "")
    return f"; overhead-bound ({side})" if isinstance(side, str) and side else ""


def claims_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's claims (``hyperf.analysis.claims``) as text rows: the claim, what Figure 4.3
    shows, the backends it was tested on, the setting, the measurement with its 95 % interval,
    where the setting differs from the paper's, the verdict and the model's prediction."""
    rows = []
    for row in table.itertuples(index=False):
        measured = row.hyena is not None and not pd.isna(row.hyena)
        rows.append(
            {
                "claim (paper)": f"{row.paper_says} ({row.source})",
                "Figure 4.3 shows": row.figure_4_3,
                "against": f"{row.against}: {row.attention}" if measured else row.against,
                "mode": f"{row.mode}, {row.exec}" if measured else "",
                "measured here (95 % CI)": row.measured_text,
                "setting differs": row.differs or ("" if not measured else "—"),
                "verdict": row.verdict,
                "model (not a measurement)": row.predicted or "",
            }
        )
    return pd.DataFrame(rows)
