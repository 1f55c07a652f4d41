"""The report's sections beside the measured comparison: where the time goes (profiled
points and their traces), the benchmark history across commits, and the GPU predictions (set
apart and labelled as predictions). Layout only, from the report's model, as in
``sections.py``, which lists them in ``SECTIONS``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from hyperf.format import time_unit
from hyperf.ops.regions import CATEGORIES
from hyperf.report import figures
from hyperf.report.blocks import Context, Figure, Section, Table
from hyperf.report.model import PREDICTION_GPU
from hyperf.stats.steps import MIN_CHANGE, MIN_LENGTH

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


MAX_HISTORY_PANELS = 12  # benchmarks drawn in the history figure; the tables list them all


def history_section(c: Context) -> Section | None:
    """The pytest-benchmark history (``hyperf bench import``); None without one, so a report
    of sweeps alone has no such section."""
    series, steps = c.report.bench_series, c.report.bench_steps
    if series.empty:
        return None
    png, drawn = figures.benchmark_history(series, steps, MAX_HISTORY_PANELS)
    total = series["fullname"].nunique()

    def shown(seconds: float) -> str:
        factor, unit = time_unit(seconds)
        return f"{seconds * factor:.4g} {unit}"

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
                "—" if pd.isna(low) else f"{shown(low)} – {shown(high)}"
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
            "fit of <code>hyperf/analysis/steps.py</code> finds, lasting at least {} commits and "
            "at least {}: one odd commit is not a step."
        ).format(MIN_LENGTH, f"{MIN_CHANGE:.0%}"),
        figures=[Figure(png, "benchmark time across commits", cap)],
        tables=[
            Table("benchmark-steps", step_rows, shown=step_rows, caption="Detected steps:"),
            Table("benchmark-latest", summary, caption="Latest time per benchmark:"),
        ],
    )


def predictions_section(c: Context) -> Section | None:
    """The prediction model against every published point and the paper's Figure 4.3, and
    predicted GPU crossovers at this run's width: set apart and labelled as predictions."""
    predicted = c.report.predictions
    if predicted is None:
        return None
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
                predicted.validation,
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
                predicted.fig4_3,
                floats="{:.2f}",
                caption=f"{predicted.citation} Its batch is 64 in the text and 1 in the paper's "
                "own script; its mode is not stated. The reading that fits best is "
                f"{predicted.best}. Per point under that reading ({PREDICTION_GPU}, the GPU the "
                "paper trained on):",
            ),
            Table(
                "prediction-readings", predicted.readings, caption="Every reading of the figure:"
            ),
            Table(
                "prediction-crossovers",
                predicted.crossovers,
                floats="{:.0f}",
                caption="Predicted crossovers at this run's width (batch 1, forward+backward, "
                "fp16):",
            ),
        ],
        kind="predicted",
    )
