"""The headline: one row per Hyena backend × attention backend × mode × exec mode, from
rankable points.

A run can hold many configurations of each pair (orders, depths, widths). The headline takes,
for each pair and mode, the configuration measured over the most lengths (ties: the lower
order, then the lower depth): its crossover L with its 95 % interval (or why there is none)
and the speedup at its longest common L with its interval. Everything else stays in the full
crossover and speedup tables.
"""

from __future__ import annotations

import pandas as pd

from hyperf.analysis.crossover import PAIR_KEYS
from hyperf.analysis.rank import with_point_defaults

CONFIG = PAIR_KEYS  # what two operators are compared at (the point model's paired keys)
PAIR = ["hyena", "attention", "causal", "mode", "exec"]
COLUMNS = [
    "hyena",
    "order",
    "attention",
    "causal",
    "mode",
    "exec",
    "depth",
    "d_model",
    "batch",
    "dtype",
    "crossover_L",
    "ci_low",
    "ci_high",
    "extrapolated",
    "note",
    "longest_L",
    "speedup",
    "speedup_low",
    "speedup_high",
    "noisy",
    "lengths",
    "overhead_bound",
    "run_id",
]


def headline_table(crossovers: pd.DataFrame, speedups: pd.DataFrame) -> pd.DataFrame:
    """One row per (Hyena op, attention op, causal, mode); see the module docstring."""
    if speedups.empty:
        return pd.DataFrame(columns=COLUMNS)
    speedups = with_point_defaults(speedups)
    if not crossovers.empty:
        crossovers = with_point_defaults(crossovers)
    keys = [*CONFIG, "hyena", "order", "attention", "causal"]
    lengths = speedups.groupby(keys, dropna=False)["seq_len"].agg(["count", "max"]).reset_index()
    lengths = lengths.sort_values(
        ["count", "order", "depth"], ascending=[False, True, True], kind="stable"
    )
    chosen = lengths.drop_duplicates(PAIR)
    at_longest = chosen.merge(
        speedups, left_on=[*keys, "max"], right_on=[*keys, "seq_len"], how="left"
    )
    table = at_longest.rename(columns={"max": "longest_L", "count": "lengths"})
    if not crossovers.empty:
        cross = crossovers[[*keys, "crossover_L", "ci_low", "ci_high", "extrapolated", "note"]]
        table = table.merge(cross, on=keys, how="left")
    for column in COLUMNS:
        if column not in table:
            table[column] = None
    return table[COLUMNS].sort_values(["mode", "exec", "hyena", "attention"], ignore_index=True)


def mark_overhead(table: pd.DataFrame, floor: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``overhead_bound``: which side of the speedup at the longest L is
    overhead-bound (``hyperf.analysis.floor``: device time under half the wall time) —
    "Hyena", "attention", "both" or "" — so a speedup set by launch and Python costs says so."""
    if table.empty or floor.empty:
        return table.assign(overhead_bound="")
    bound = floor.set_index(
        ["run_id", "op", "mode", "exec", "batch", "d_model", "depth", "seq_len"]
    )["bound"]
    marks = []
    for row in table.to_dict("records"):
        sides = []
        for side, op in (("Hyena", row["hyena"]), ("attention", row["attention"])):
            key = (row["run_id"], op, row["mode"], row["exec"], row["batch"], row["d_model"],
                   row["depth"], row["longest_L"])  # fmt: skip
            found = bound.get(key)
            if isinstance(found, pd.Series):
                found = found.iloc[0]
            if found == "overhead":
                sides.append(side)
        marks.append("both" if len(sides) == 2 else "".join(sides))
    return table.assign(overhead_bound=marks)
