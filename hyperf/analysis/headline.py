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
from hyperf.params import SUBQUADRATIC

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
    "searched",
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


def _verdict(row: dict) -> str:
    """A searched crossover's verdict in a few words (empty when resolved: the numbers say it)."""
    if row["verdict"] == "resolved":
        return ""
    if row["verdict"].endswith("faster everywhere"):
        faster = row["a"] if row["verdict"].startswith("a") else row["b"]
        return f"{faster} faster everywhere in [{row['lmin']:,}, {row['lmax']:,}]"
    if row.get("crossover_L") is not None and not pd.isna(row["crossover_L"]):
        return f"±{row['half_width']:.0%}, wider than the ±{row['tol']:.0%} asked"
    estimate = row.get("estimate_L")
    near = f" (estimate ≈ {estimate:,.0f})" if estimate and not pd.isna(estimate) else ""
    return f"not resolved to ±{row['tol']:.0%}{near}"


SEARCH_KEYS = ["hyena", "order", "attention", "causal", "mode", "exec", "depth", "d_model",
               "batch", "dtype"]  # fmt: skip


def with_searched(table: pd.DataFrame, searched: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each searched crossover (``hyperf.analysis.search``) in place of the
    grid's at the same configuration, its ``searched`` cell saying how it was found; a search
    that resolved nothing keeps the grid's crossover, with the search's verdict beside it; a
    pair searched but not swept gets a row of its own (no speedup). Pairs other than a Hyena (or
    long convolution) against an attention are not headline pairs."""
    if searched.empty:
        return table
    rows = []
    for row in searched.to_dict("records"):
        if row["verdict"] == "unreadable":
            continue
        if row["a_family"] in SUBQUADRATIC and row["b_family"] == "attention":
            hyena, attention = row["a"], row["b"]
        elif row["b_family"] in SUBQUADRATIC and row["a_family"] == "attention":
            hyena, attention = row["b"], row["a"]
        else:
            continue
        seconds = f", {row['seconds']:.0f} s" if row["seconds"] is not None else ""
        how = f"searched: {row['probes']} probes{seconds} (run {row['run_id']})"
        note = _verdict(row)
        rows.append(
            {**{k: row[k] for k in SEARCH_KEYS if k in row}, "hyena": hyena,
             "attention": attention, "crossover_L": row["crossover_L"],
             "ci_low": row["ci_low"], "ci_high": row["ci_high"], "extrapolated": False,
             "note": note, "searched": how,
             # no crossover and no one-sided answer: the grid's crossover stands
             "grid_stands": pd.isna(row["crossover_L"])
             and not row["verdict"].endswith("faster everywhere")}
        )  # fmt: skip
    if not rows:
        return table
    found = pd.DataFrame(rows)
    table = table.copy()
    if "searched" not in table:
        table["searched"] = None
    merged = table.merge(found, on=SEARCH_KEYS, how="outer", suffixes=("", "_s"),
                         indicator=True)  # fmt: skip
    replaced = merged["_merge"] != "left_only"
    # A search that found no crossover and no one-sided answer leaves the grid's crossover
    # standing (it is what is known), and says so beside it.
    keep_grid = replaced & merged["grid_stands"].eq(True) & merged["crossover_L"].notna()
    for column in ("crossover_L", "ci_low", "ci_high", "extrapolated", "note", "searched"):
        merged[column] = merged[column].astype(object)
        take = replaced & ~keep_grid if column != "searched" else replaced
        merged.loc[take, column] = merged.loc[take, f"{column}_s"]
    merged.loc[keep_grid, "note"] = "grid's interpolation; the search: " + merged.loc[
        keep_grid, "note_s"
    ].astype(str)
    for column in COLUMNS:
        if column not in merged:
            merged[column] = None
    return merged[COLUMNS].sort_values(["mode", "exec", "hyena", "attention"], ignore_index=True)
