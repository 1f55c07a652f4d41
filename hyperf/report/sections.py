"""The report as a list of sections: each a title, a note, figures and tables, built by one
function from the report's data (analysis results, rankable points only for anything
compared). ``html.py`` renders them in one template loop and writes every table as CSV.

Adding a section is one function here and one entry in ``SECTIONS``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Number
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from markupsafe import Markup

from hyperf.analysis.rank import rankable_points
from hyperf.analysis.scaling import memory_crossovers, memory_fits, step_costs
from hyperf.analysis.summary import (
    ceilings_by_run,
    correctness_table,
    environment_table,
    published_overlay,
    roofline_summary,
)
from hyperf.format import format_cell, format_interval, format_rate, format_seconds
from hyperf.ops.regions import CATEGORIES
from hyperf.report import figures, style
from hyperf.report.headline import headline_cells
from hyperf.stats.steps import MIN_CHANGE, MIN_LENGTH

if TYPE_CHECKING:
    from hyperf.report.html import Report


@dataclass(frozen=True)
class Table:
    """One table: ``frame`` is what its CSV (``NAME-{name}.csv``) holds; the page shows
    ``columns`` of ``shown`` (``frame`` unless given), or only a link to the CSV when
    ``on_page`` is false. ``links`` maps a shown column to the column holding its href."""

    name: str
    frame: pd.DataFrame
    columns: list[str] | None = None
    floats: str = "{:.3g}"
    caption: str | Markup = ""
    shown: pd.DataFrame | None = None
    on_page: bool = True
    links: dict[str, str] = field(default_factory=dict)

    def html(self) -> Markup:
        """The table with every cell escaped (hrefs too); "none" when it has no rows."""
        frame = self.frame if self.shown is None else self.shown
        if frame.empty:
            return Markup("<p class='empty'>none</p>")
        columns = [c for c in (self.columns or list(frame.columns)) if c in frame.columns]
        head = Markup("").join(Markup("<th>{}</th>").format(c) for c in columns)
        rows = []
        for record in frame.to_dict("records"):
            cells = []
            for column in columns:
                text = format_cell(record[column], self.floats)
                href = record.get(self.links[column]) if column in self.links else None
                if isinstance(href, str) and href:
                    cells.append(Markup('<td><a href="{}">{}</a></td>').format(href, text))
                elif isinstance(record[column], Number) and not isinstance(record[column], bool):
                    cells.append(Markup('<td class="num">{}</td>').format(text))
                else:
                    cells.append(Markup("<td>{}</td>").format(text))
            rows.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
        body = Markup("").join(rows)
        return Markup(
            '<table class="data"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
        ).format(head, body)


@dataclass(frozen=True)
class Figure:
    png: str | None  # base64 PNG, None when there was nothing to draw
    alt: str
    note: str | Markup = ""


@dataclass(frozen=True)
class Section:
    """``kind``: "measured", "predicted" (set apart, labelled a prediction) or "not-ranked"."""

    id: str
    title: str
    note: str | Markup = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    empty: str = ""  # said when no figure was drawn and no table shown has rows
    after: str | Markup = ""  # a closing note
    kind: str = "measured"

    @property
    def has_content(self) -> bool:
        drawn = any(f.png for f in self.figures)
        shown = [t for t in self.tables if t.on_page]
        return drawn or any(not (t.frame if t.shown is None else t.shown).empty for t in shown)


@dataclass(frozen=True)
class Context:
    """What every section function sees: the report's data, one colour per operator for all
    figures, and the folder the HTML lands in (for relative links; None: absolute)."""

    report: Report
    colours: dict
    base: Path | None

    @property
    def ranked(self) -> pd.DataFrame:
        points = self.report.points
        return rankable_points(points) if not points.empty else points


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


def environment_section(c: Context) -> Section:
    ceilings = list(ceilings_by_run(c.report.runs).values())
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
        after = "Calibrated ceilings: " + " ".join(parts)
    else:
        after = Markup(
            "No calibrated ceilings (run <code>hyperf calibrate</code> before the sweep to get "
            "rooflines)."
        )
    table = environment_table(c.report.runs)
    return Section("environment", "Environment", tables=[Table("environment", table)], after=after)


def time_section(c: Context) -> Section:
    overlay, overlay_note = published_overlay(c.report.points)
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
    columns = ["hyena", "order", "attention", "causal", "mode", "depth", "d_model", "batch"]
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
    columns = ["op", "causal", "mode", "order", "depth", "d_model", "b", "r2", "a_ms", "points"]
    return Section(
        "scaling",
        Markup("Scaling: time ≈ a·L<sup>b</sup>"),
        "A power law fitted per series over every length measured; 'points' says how many. "
        "An exponent outside its family's expected range is flagged with the likely reason.",
        tables=[Table("scaling", c.report.scaling, [*columns, "expected", "flag"])],
    )


def _step_table(name: str, costs: pd.DataFrame, *fixed: str) -> Table:
    """Resolved per-step costs with their 95 % interval on the page; every fit in the CSV."""
    columns = ["op", "causal", "mode", "seq_len", *fixed, "per_step_ms", "ci_low_ms"]
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
    points = c.report.points
    depth = step_costs(points, "depth") if len(points) else pd.DataFrame()
    order = step_costs(points, "hyena_order") if len(points) else pd.DataFrame()
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
    points = c.report.points
    cross = memory_crossovers(points) if len(points) else pd.DataFrame()
    fits = memory_fits(points) if len(points) else pd.DataFrame()
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


BREAKDOWN_ORDER = [*CATEGORIES, "backward", "other"]


def profile_rows(table: pd.DataFrame, base: Path | None) -> pd.DataFrame:
    """One row per profiled point: its parameters, the three largest categories' shares and
    its trace (a path relative to the report when ``base`` is given; None when the trace was
    not kept with the store)."""
    rows = []
    if table.empty:
        return pd.DataFrame(rows)
    for (op, mode, seq_len, d_model, folder), group in table.groupby(
        ["op", "mode", "seq_len", "d_model", "profile_dir"], dropna=False
    ):
        shares = group.set_index("category")["share"].dropna()
        top = ", ".join(f"{c} {v:.0%}" for c, v in shares.sort_values(ascending=False)[:3].items())
        trace = Path(str(folder)) / "trace.json.gz"
        if not trace.exists():  # a store copied without its traces
            href, shown = None, "not kept with this store"
        else:
            href = os.path.relpath(trace, base) if base is not None else trace.as_uri()
            shown = "trace.json.gz"
        rows.append(
            {"op": op, "mode": mode, "L": seq_len, "D": d_model, "largest shares": top}
            | {"trace": shown, "href": href}
        )
    return pd.DataFrame(rows)


def breakdown_section(c: Context) -> Section:
    table = c.report.breakdowns
    profiles = profile_rows(table, c.base)
    return Section(
        "breakdown",
        "Where the time goes",
        Markup(
            "Time per stage of Algorithm 3 (named profiler ranges: projections, short conv, "
            "filter generation, FFTs, pointwise/gating, attention core, …) in points profiled "
            "with <code>hyperf sweep --profile</code>. Profiled milliseconds (the profiler adds "
            "its own cost) say which stage took the time, not how long the point takes: that is "
            "its timed median above. <em>backward</em> is autograd's backward pass as a whole; "
            "<em>other</em> is the step's time outside every named range."
        ),
        figures=[
            Figure(
                figures.breakdown_bars(table, BREAKDOWN_ORDER),
                "time per category vs sequence length",
            )
        ],
        tables=[
            Table("breakdown", table, on_page=False, caption="Every category's time:"),
            Table(
                "profiles",
                profiles,
                ["op", "mode", "L", "D", "largest shares", "trace"],
                links={"trace": "href"},
            ),
        ],
        empty="No profiled points in these runs (hyperf sweep SPEC --profile adds them).",
        after=Markup(
            'Open a trace in <a href="https://ui.perfetto.dev">ui.perfetto.dev</a>, or its '
            "folder's <code>tb/</code> in TensorBoard (<code>tensorboard --logdir FOLDER/tb"
            "</code>, with the <code>tb</code> extra)."
        )
        if len(profiles)
        else "",
    )


def roofline_section(c: Context) -> Section:
    table = roofline_summary(c.report.points, ceilings_by_run(c.report.runs))
    return Section(
        "roofline",
        "Throughput and roofline",
        "Achieved TFLOP/s (analytic FLOPs / median time) and GB/s (analytic bytes / median time), "
        "best over the lengths measured; roofline fraction = bound time / measured time, when "
        "the run had calibrated ceilings.",
        tables=[Table("roofline", table)],
    )


def correctness_section(c: Context) -> Section:
    table = correctness_table(c.report.points)
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


MAX_HISTORY_PANELS = 12  # benchmarks drawn in the history figure; the tables list them all


def history_section(c: Context) -> Section | None:
    """The pytest-benchmark history (``hyperf bench import``); None without one, so a report
    of sweeps alone has no such section."""
    series, steps = c.report.bench_series, c.report.bench_steps
    if series.empty:
        return None
    png, drawn = figures.benchmark_history(series, steps, MAX_HISTORY_PANELS)
    total = series["fullname"].nunique()

    def shown(seconds: float) -> str:  # 4 digits: a 5 % step must not round away
        return format_seconds(seconds, 4)

    step_rows = pd.DataFrame(
        {
            "benchmark": steps["name"],
            "group": steps["group"],
            "commit": steps["label"],
            "date (UTC)": steps["time"].str[:16].str.replace("T", " "),
            "before": steps["before_s"].map(shown),
            "after": steps["after_s"].map(shown),
            "change": steps["change"].map("{:+.1%}".format),
        }
    )
    latest = series.sort_values(["fullname", "position"]).groupby("fullname").tail(1)
    counts = steps.groupby("fullname").size()
    summary = pd.DataFrame(
        {
            "benchmark": latest["fullname"],
            "group": latest["group"],
            "commits": series.groupby("fullname", sort=True).size().to_numpy(),
            "latest commit": latest["label"],
            "latest median": latest["median_s"].map(shown),
            "95% CI": [
                format_interval(low, high, shown)
                for low, high in zip(latest["ci_low_s"], latest["ci_high_s"], strict=True)
            ],
            "steps": latest["fullname"].map(counts).fillna(0).astype(int),
        }
    )
    cap = (
        f"{len(drawn)} of {total} benchmarks drawn, those with the largest steps first; the "
        "tables list them all."
        if len(drawn) < total
        else ""
    )
    return Section(
        "benchmark-history",
        "Benchmark history",
        Markup(
            "pytest-benchmark results imported with <code>hyperf bench import</code> (all of this "
            "store's, whatever runs the report covers), one point per commit in commit-time "
            "order: the median with its 95 % CI (from the raw samples, when saved with "
            "<code>--benchmark-save-data</code>). A step is a change of level the penalised L1 "
            "fit of <code>hyperf/stats/steps.py</code> finds, lasting at least {} commits and "
            "at least {}: one odd commit is not a step."
        ).format(MIN_LENGTH, f"{MIN_CHANGE:.0%}"),
        figures=[Figure(png, "benchmark time across commits", cap)],
        tables=[
            Table("benchmark-steps", step_rows, shown=step_rows, caption="Detected steps:"),
            Table("benchmark-latest", summary, caption="Latest time per benchmark:"),
        ],
    )


def predictions_section(c: Context) -> Section:
    """The prediction model against every published point and the paper's Figure 4.3, and
    predicted GPU crossovers at this run's width: set apart and labelled as predictions."""
    from hyperf.analysis.predict import predicted_crossovers, published
    from hyperf.analysis.validation import fig4_3_reading, validation_summary

    per_point, readings, best = fig4_3_reading("A100-80GB")
    points = c.report.points
    d_model = int(points["d_model"].mode().iloc[0]) if len(points) else 768
    crossings = predicted_crossovers(d_model)
    citation = published()["paper_fig4_3"]["citation"].strip()
    validation = validation_summary()
    columns = ["source", "kind", "reading", "gpu", "n", "median_abs_error_pct"]
    columns += ["p90_abs_error_pct", "worst_abs_error_pct", "worst_point"]
    return Section(
        "predictions",
        "Predictions (GPU, not measured)",
        Markup(
            "<b>Everything in this section is a PREDICTION</b> of <code>hyperf predict</code> — a "
            "model whose parts (GEMM efficiency, attention core per implementation, FFT "
            "bandwidth, launch floor) are fitted on published GPU timings — not a measurement. "
            "Each comparison is on the published point's own GPU."
        ),
        tables=[
            Table(
                "prediction-validation",
                validation,
                columns,
                "{:.1f}",
                caption=Markup(
                    "The model against every published point: absolute error of predicted "
                    "against published ms. <i>part, held out</i>: a fitted part predicting points "
                    "it was not fitted on; <i>whole model</i>: on points no part was fitted on; "
                    "<i>in-sample</i>: shows the plumbing, not accuracy. Every point: "
                    "<code>hyperf predict --validate --json</code>."
                ),
            ),
            Table(
                "prediction-fig4-3",
                per_point,
                floats="{:.2f}",
                caption=f"{citation} Its batch is 64 in the text and 1 in the paper's own "
                f"script; its mode is not stated. The reading that fits best is {best}. Per "
                "point under that reading (A100-80GB, the GPU the paper trained on):",
            ),
            Table("prediction-readings", readings, caption="Every reading of the figure:"),
            Table(
                "prediction-crossovers",
                crossings,
                floats="{:.0f}",
                caption="Predicted crossovers at this run's width (batch 1, forward+backward, "
                "fp16):",
            ),
        ],
        kind="predicted",
    )


def not_ranked_section(c: Context) -> Section:
    columns = ["op", "causal", "mode", "dtype", "seq_len", "d_model", "depth", "hyena_order"]
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
    environment_section,
    time_section,
    speedup_section,
    crossover_section,
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
