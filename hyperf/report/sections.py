"""The report as a list of sections: each a title, a note, figures and tables, laid out by
one function from the report's model (``model.Report``: every table already computed,
rankable points only for anything compared). Presentation only: nothing here computes a
result. ``html.py`` renders the sections in one template loop and writes every table as CSV.

Adding a section is one function here (or in ``extra_sections.py``) and one entry in
``SECTIONS`` (and, when it needs a new table, one field of ``model.Report`` computed in
``model.assemble``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from hyperf.format import format_rate
from hyperf.report import figures, style
from hyperf.report.blocks import Context, Figure, Section, Table
from hyperf.report.extra_sections import breakdown_section, history_section, predictions_section
from hyperf.report.headline import claims_cells, headline_cells
from hyperf.report.model import Report
from hyperf.report.searches import searches_section


def headline_section(c: Context) -> Section:
    table = c.report.headline_table
    cells = headline_cells(table)
    note = "For each Hyena backend × attention backend × mode: the crossover L and the speedup at "
    note += "the longest L measured, each with its 95 % interval (speedup > 1×: Hyena is faster)."
    if c.report.warnings:
        note += " From an incomplete run (see the banner above)."
    if len(table) and table["noisy"].fillna(False).astype(bool).any():
        note += " (noisy): a point behind that speedup spread by more than 10 % of its median."
    return Section(
        "headline",
        "Headline",
        note,
        tables=[Table("headline", table, shown=cells)],
        bullets=c.report.headline,
    )


def claims_section(c: Context) -> Section:
    table = c.report.claims
    note = (
        "The Hyena paper's runtime claims (abstract: 2× as fast as highly optimized attention "
        "at 8K, 100× at 64K; §4.4: the crossover with FlashAttention lies between 4K and 8K), "
        "tested on this report's rankable points: per execution mode and pass, at the measured "
        "configuration nearest the paper's (order 2, D=768, fp16, batch 1 or 64, bare "
        "mixer), against the fastest backend of the comparator measured there. A claim holds "
        "when the whole 95 % interval is on its side; a length not measured is not judged, and "
        "the model's prediction beside it is never a verdict."
    )
    return Section(
        "claims",
        "The paper's claims",
        note,
        tables=[Table("claims", table, shown=claims_cells(table))],
        empty="No claim rows.",
    )


def environment_section(c: Context) -> Section:
    ceilings = list(c.report.ceilings.values())
    if ceilings:
        parts = []
        for ceiling in ceilings:
            rates = "; ".join(
                f"matmul {dtype} {format_rate(rate, 'GFLOP/s')}"
                for dtype, rate in ceiling["matmul_flops"].items()
            )
            parts.append(
                f"{ceiling.get('device_name')} ({ceiling.get('threads')} threads): {rates}; "
                f"copy {format_rate(ceiling['copy_bytes_per_s'], 'GB/s')}."
            )
        after = "Calibrated ceilings: " + " ".join(dict.fromkeys(parts))  # once per machine
    else:
        after = Markup(
            "No calibrated ceilings (run <code>hyperf calibrate</code> before the sweep to get "
            "rooflines)."
        )
    table = c.report.environment
    return Section("environment", "Environment", tables=[Table("environment", table)], after=after)


def time_section(c: Context) -> Section:
    overlay, overlay_note = c.report.overlay, c.report.overlay_note
    ranked = c.ranked
    if not ranked.empty and ranked["run_id"].nunique() > 1:
        ranked = ranked.assign(run_tag=[f"run {r}" for r in ranked["run_id"]])
    png = figures.time_vs_length(ranked, c.colours, overlay) if not ranked.empty else None
    note = (
        "Median per point; the band is the 95 % bootstrap CI of the median. Colour: operator; "
        "line style: Hyena order; marker: depth; hollow marker: a noisy point (IQR over 10 % of "
        "its median)."
    )
    return Section(
        "time",
        "Time vs sequence length",
        figures=[Figure(png, "time vs sequence length", note)],
        empty="No rankable points to plot.",
        after=overlay_note if png else "",
    )


def floor_section(c: Context) -> Section:
    table = c.report.floor
    png = figures.floor_vs_length(table, c.colours) if not table.empty else None
    bound = table["bound"].value_counts().to_dict() if not table.empty else {}
    counts = ", ".join(f"{n} {kind or 'unknown'}" for kind, n in bound.items())
    note = (
        "Per point: the measured wall time; the device time of one step (CUDA: the summed "
        "kernel, memcpy and memset time; CPU: the summed operator self time, read under the "
        "profiler, which inflates it a little); and the roofline floor (the point's FLOPs at "
        "the calibrated matmul rate or its bytes at the calibrated copy bandwidth, whichever "
        "is slower). Overhead-bound: the device time is under half the wall time, so the wall "
        "time is Python, dispatch and launches, not the operator."
    )
    columns = ["op", "mode", "exec", "seq_len", "d_model", "depth", "wall_ms", "device_ms"]
    columns += ["host_ms", "device_events", "floor_ms", "floor_pct", "bound"]
    return Section(
        "floor",
        "Wall, device and floor",
        note,
        figures=[Figure(png, "wall, device time and roofline floor vs sequence length")],
        tables=[
            Table("floor", table, columns, caption=f"Bound classes: {counts}." if counts else "")
        ],
        empty="No point has a device time (stores before schema 7 have none).",
    )


def speedup_section(c: Context) -> Section:
    speed = c.report.speedups
    drawn = [
        Figure(
            figures.speedup_vs_length(speed, c.colours),
            "speedup vs sequence length",
            "Attention time divided by Hyena time, with its 95 % interval: above 1, Hyena is "
            "faster.",
        ),
        Figure(figures.speedup_heatmaps(speed, "order"), "speedup over L and order"),
        Figure(figures.speedup_heatmaps(speed, "depth"), "speedup over L and depth"),
    ]
    return Section(
        "speedup",
        "Speedup vs sequence length",
        figures=drawn,
        tables=[Table("speedups", speed, on_page=False, caption="Every speedup with its CI:")],
        empty="No Hyena/attention pair measured at common lengths.",
    )


def crossover_section(c: Context) -> Section:
    columns = ["hyena", "order", "attention", "causal", "mode", "exec", "depth", "d_model"]
    columns += ["batch"]
    columns += ["dtype", "crossover_L", "ci_low", "ci_high", "extrapolated", "note", "lengths"]
    return Section(
        "crossovers",
        "Crossovers",
        tables=[Table("crossovers", c.report.crossovers, columns, "{:.0f}")],
        after="Interpolated in log-log space between the bracketing lengths; the CI bootstraps "
        "the raw samples. A crossover is shown only where ≥ 95 % of the replicates cross and "
        "its interval stays between the neighbouring lengths; otherwise it says 'not "
        "resolved'. Extrapolated rows come from the power-law fits below and are estimates, "
        "not measurements.",
    )


def scaling_section(c: Context) -> Section:
    columns = ["op", "causal", "mode", "exec", "order", "depth", "d_model", "b", "r2", "a_ms"]
    columns += ["points"]
    return Section(
        "scaling",
        Markup("Scaling: time ≈ a·L<sup>b</sup>"),
        "A power law fitted per series over every length measured; 'points' says how many. "
        "An exponent outside its family's expected range is flagged with the likely reason.",
        tables=[Table("scaling", c.report.scaling, [*columns, "expected", "flag"])],
    )


def _step_table(name: str, costs: pd.DataFrame, *fixed: str) -> Table:
    """Resolved per-step costs with their 95 % interval on the page; every fit in the CSV."""
    columns = ["op", "causal", "mode", "exec", "seq_len", *fixed, "per_step_ms", "ci_low_ms"]
    columns += ["ci_high_ms", "r2", "steps"]
    if costs.empty:
        return Table(name, costs, columns)
    shown = costs[costs["resolved"]]
    hidden = len(costs) - len(shown)
    caption = (
        f"{hidden} of {len(costs)} not resolved (fewer than 3 levels and an interval that "
        "includes zero, or a negative cost): in the CSV, not shown."
        if hidden
        else ""
    )
    return Table(name, costs, columns, shown=shown, caption=caption)


def depth_order_section(c: Context) -> Section:
    depth, order = c.report.depth_costs, c.report.order_costs
    return Section(
        "depth-order",
        "Depth and order",
        "Time per extra block and per Hyena order step: a line fitted over depth (or order), "
        "with its 95 % interval (from each point's interval, widened by the line's misfit). "
        "Shown only where resolved: at least 3 levels, or an interval that excludes zero, and "
        "never a negative cost; R² only with 3 or more levels.",
        tables=[
            _step_table("depth-costs", depth, "hyena_order"),
            _step_table("order-costs", order, "depth", "variant"),
        ],
    )


def memory_section(c: Context) -> Section:
    ranked = c.ranked
    png = figures.memory_vs_length(ranked, c.colours) if not ranked.empty else None
    cross, fits = c.report.memory_crossovers, c.report.memory_fits
    columns = ["hyena", "order", "attention", "causal", "mode", "depth", "memory_crossover_L"]
    return Section(
        "memory",
        "Memory",
        figures=[Figure(png, "memory vs sequence length")],
        tables=[
            Table(
                "memory-crossovers",
                cross,
                [*columns, "note"],
                "{:.0f}",
                caption="Where Hyena's saved activations drop below attention's:",
            ),
            Table(
                "memory-fits",
                fits,
                caption=Markup(
                    "Saved bytes ≈ a·L<sup>b</sup> per series, and the longest L whose saved "
                    "activations fit 80 GB by that fit (an extrapolation):"
                ),
            ),
        ],
        empty="No memory measurements in these runs.",
    )


def roofline_section(c: Context) -> Section:
    table = c.report.roofline
    return Section(
        "roofline",
        "Throughput and roofline",
        "Achieved TFLOP/s (analytic FLOPs / median time) and GB/s (analytic bytes / median time), "
        "best over the lengths measured; roofline fraction = bound time / measured time, when "
        "the run had calibrated ceilings.",
        tables=[Table("roofline", table)],
    )


def correctness_section(c: Context) -> Section:
    table = c.report.correctness
    return Section(
        "correctness",
        "Correctness",
        tables=[Table("correctness", table)],
        after=Markup(
            "Maximum relative error against the float64 oracle per backend; a point over "
            "tolerance is stored as <code>wrong</code>, one with no independent oracle as "
            "<code>unchecked</code>; neither is ever ranked for speed."
        ),
    )


def not_ranked_section(c: Context) -> Section:
    columns = ["op", "causal", "mode", "exec", "dtype", "seq_len", "d_model", "depth"]
    columns += ["hyena_order"]
    columns += ["status", "not_ranked_because", "median_ms", "error"]
    return Section(
        "not-ranked",
        "Not ranked: failures, interpreted, contended, wrong, unchecked",
        "Shown, never compared: no figure, fit or comparison above uses these points.",
        tables=[Table("not-ranked", c.report.not_ranked, columns)],
        kind="not-ranked",
    )


def methodology_section(c: Context) -> Section:
    return Section(
        "methodology",
        "Methodology",
        "Each point: a correctness check against the float64 oracle (on an exact causal prefix), "
        "one timed first call (plans, compilation), warm-up, then samples until the 95 % "
        "bootstrap CI of the median is within the target or the budget runs out. CPU times from "
        "perf_counter_ns with the recorded thread count; CUDA times from events with the L2 "
        "flushed between samples. The timed region contains the whole operator including the "
        "implicit filter's generation; fwd is the forward with autograd recording, fwd_bwd "
        "forward and backward.",
        tables=[Table("points", c.report.points, on_page=False, caption="Every point:")],
    )


SECTIONS: list[Callable[[Context], Section | None]] = [
    headline_section,
    claims_section,
    environment_section,
    time_section,
    floor_section,
    speedup_section,
    crossover_section,
    searches_section,
    scaling_section,
    depth_order_section,
    memory_section,
    breakdown_section,
    roofline_section,
    correctness_section,
    history_section,
    predictions_section,
    not_ranked_section,
    methodology_section,
]


def sections(report: Report, base: Path | None = None) -> list[Section]:
    """Every section the report has, in order (a history section only with a history)."""
    points = report.points
    colours = style.palette(points["op"].unique().tolist()) if not points.empty else {}
    context = Context(report, colours, base)
    built = (make(context) for make in SECTIONS)
    return [section for section in built if section is not None]
