"""The report's section on adaptive crossover searches (``hyperf crossover``, or a spec's
``search:``): one panel per search with both operators' times at its probes, numbered in the
order they were measured, and the crossover's 95 % interval; a table of the searches."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from hyperf.report import figures
from hyperf.report.blocks import Context, Figure, Section, Table
from hyperf.report.style import LINE_WIDTH, MARKER_SIZE, length_axis, light_grid, log_y, palette


def searches_figure(table: pd.DataFrame) -> str | None:
    """Per search: t_A and t_B (ms) at every probe, each probe's number beside it, and the
    interval (shaded) around the crossover (dashed) once resolved."""
    table = table[table["verdict"] != "unreadable"] if len(table) else table
    if table.empty:
        return None
    colours = palette(sorted(set(table["a"]) | set(table["b"])))
    columns = min(2, len(table))
    rows = -(-len(table) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 3.6 * rows), squeeze=False)
    for ax, row in zip(axes.flat, table.to_dict("records"), strict=False):
        probes = pd.DataFrame(
            {"L": row["probe_lengths"], "a": row["probe_a_ms"], "b": row["probe_b_ms"],
             "order": row["probe_order"]}
        ).sort_values("L")  # fmt: skip
        for side in ("a", "b"):
            ax.plot(probes["L"], probes[side], "-o", color=colours[row[side]], lw=LINE_WIDTH,
                    ms=MARKER_SIZE, label=row[side])  # fmt: skip
        for probe in probes.itertuples():
            ax.annotate(str(probe.order), (probe.L, max(probe.a, probe.b)), fontsize=7,
                        xytext=(0, 4), textcoords="offset points", ha="center")  # fmt: skip
        if row["crossover_L"] is not None and not pd.isna(row["crossover_L"]):
            ax.axvspan(row["ci_low"], row["ci_high"], color="0.85", zorder=0)
            ax.axvline(row["crossover_L"], color="0.3", ls="--", lw=1)
        length_axis(ax, list(probes["L"]))
        log_y(ax)
        ax.set_ylabel("ms per step")
        ax.set_title(f"{row['mode']}, {row['exec']}, D={row['d_model']}, depth {row['depth']}"
                     f" (run {row['run_id']})", fontsize=9)  # fmt: skip
        ax.legend(fontsize=7, frameon=False)
        light_grid(ax)
    for ax in axes.flat[len(table) :]:
        ax.set_visible(False)
    return figures.to_png(fig)


def searches_section(c: Context) -> Section | None:
    table = c.report.searches
    if table.empty:
        return None
    columns = ["run_id", "a", "b", "mode", "exec", "d_model", "depth", "batch", "dtype"]
    columns += ["verdict", "crossover_L", "ci_low", "ci_high", "half_width", "tol", "probes"]
    columns += ["seconds", "lmin", "lmax", "note"]
    return Section(
        "searches",
        "Searched crossovers",
        "Where two operators swap places, found by an adaptive search rather than read off "
        "the grid: probes at lmin, 4·lmin, … until the faster operator changes, then each next "
        "length where it narrows the crossover's interval most, until the 95 % interval's "
        "half-width is within tol (hyperf/analysis/search.py has the method and its "
        "assumptions). Every probe is two ordinary points (both operators at one L), measured "
        "in separate processes and checked against their oracles; the numbers beside the "
        "markers are the order the probes were measured in. A crossover on the CPU in eager "
        "mode includes Python and dispatch costs: see Wall, device and floor.",
        figures=[Figure(searches_figure(table), "both operators' times at each probe")],
        tables=[Table("searches", table.reindex(columns=columns))],
    )
