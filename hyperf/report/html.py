"""One self-contained HTML report (figures and CSS inline), plus Markdown and CSV beside it."""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
import yaml
from markupsafe import Markup

from hyperf.analysis import load
from hyperf.analysis.breakdown import breakdown_table, load_breakdowns
from hyperf.analysis.crossover import crossovers, scaling_fits, speedups
from hyperf.analysis.headline import headline_table
from hyperf.analysis.rank import mark_rankable, not_ranked_points, rankable_points
from hyperf.analysis.steps import MIN_CHANGE, MIN_LENGTH, commit_series, history_steps
from hyperf.files import OutputError, check_outputs, text, write_all
from hyperf.ops.regions import CATEGORIES
from hyperf.report import figures
from hyperf.report.headline import headline_cells
from hyperf.store import Store
from hyperf.sweep.plan import build_plan
from hyperf.sweep.spec import Spec
from hyperf.units import time_unit

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Report:
    headline: list[str]
    crossovers: pd.DataFrame
    speedups: pd.DataFrame
    scaling: pd.DataFrame
    not_ranked: pd.DataFrame  # failures, interpreted, contended, wrong, unchecked: shown only
    points: pd.DataFrame  # every point, marked rankable or not
    runs: pd.DataFrame
    breakdowns: pd.DataFrame = field(default_factory=pd.DataFrame)  # profiled, rankable
    bench_series: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.steps
    bench_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)  # incomplete runs: shown first everywhere
    headline_table: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.headline


def fmt_length(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value / 1024:.1f}K" if value >= 1024 else f"{value:.0f}"


def headline(cross: pd.DataFrame, speed: pd.DataFrame, points: pd.DataFrame) -> list[str]:
    """The few sentences under the headline table: the largest measured speedup at a few
    lengths, and what cannot be compared."""
    if points.empty:
        return ["This run holds no points."]
    ranked = rankable_points(points)
    lines = []
    if ranked.empty:
        why = not_ranked_points(points)["not_ranked_because"].value_counts()
        counts = ", ".join(f"{n} × {reason}" for reason, n in why.items())
        lines.append(
            f"None of the {len(points)} points can be ranked ({counts}); see Not ranked below."
        )
    if not speed.empty:
        fixed = [n for n in (8192, 65536) if n in set(speed["seq_len"])]
        longest = speed["seq_len"].max()
        for seq_len in dict.fromkeys([*fixed, longest]):  # each length once
            at = speed[speed["seq_len"] == seq_len]
            best = at.loc[at["speedup"].idxmax()]
            lines.append(
                f"At L={fmt_length(seq_len)}, {best['hyena']} (order {best['order']}) is "
                f"{best['speedup']:.2f}× ({best['speedup_low']:.2f}–"
                f"{best['speedup_high']:.2f}) as fast as "
                f"{figures.attention_label(best['attention'], best.get('causal', 1))} "
                f"({best['mode']}, depth {best['depth']})."
            )
    if points["family"].nunique() < 2:
        lines.append("Only one family of operators was measured: there is nothing to cross.")
    elif not ranked.empty and ranked["family"].nunique() < 2:
        lines.append("Only one family of operators can be ranked: there is nothing to cross.")
    return lines


def markdown_table(frame: pd.DataFrame) -> str:
    """A text DataFrame as a Markdown table ("" when empty)."""
    if frame.empty:
        return ""
    cells = [[str(v).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def build(db: str | Path, run_ids: list[int] | None = None) -> Report:
    """The report's data: the runs ``run_ids`` (all if None), and the store's whole
    benchmark history (``hyperf bench import``), which belongs to no run."""
    points, samples, runs = load(db, run_ids)
    with Store(db) as store:
        history = store.benchmark_history()
        warnings = incomplete_runs(store, db, runs["id"].tolist())
    report = assemble(points, samples, runs, load_breakdowns(db, runs["id"].tolist()), history)
    report.warnings = warnings
    return report


def stored_spec(spec_text: str | None) -> Spec | None:
    """The run's stored spec, or None when it no longer validates (e.g. a plugin operator
    that is not loaded, or a run made without a spec)."""
    try:
        return Spec.model_validate(yaml.safe_load(spec_text or ""))
    except (ValueError, yaml.YAMLError):
        return None


def incomplete_runs(store: Store, db: str | Path, run_ids: list[int]) -> list[str]:
    """One line per run that does not hold every point its stored spec plans (re-planned as
    the driver plans it) or was not finished: how many of its planned points are stored, its
    status, and the command that finishes it."""
    lines = []
    for run_id in run_ids:
        run = store.run(run_id)
        done = store.done_point_ids(run_id)
        spec = stored_spec(run["spec_text"])
        planned = {p.id for p in build_plan(spec, run["device"])} if spec else None
        if planned is not None and planned <= done and run["status"] == "finished":
            continue
        if planned is None:
            counts = f"{len(done)} points stored, of a number planned that is unknown"
        else:
            counts = f"{len(done & planned)} of {len(planned)} planned points stored"
        device = ""
        if spec is not None and spec.device != run["device"]:
            device = f" --device {shlex.quote(str(run['device']))}"
        lines.append(
            f"Run {run_id} ({run['name']}) is incomplete: {counts} (status {run['status']}). "
            f"Finish it with: hyperf sweep SPEC --db {shlex.quote(str(db))} --resume {run_id}"
            f"{device} (SPEC: the spec file run {run_id} was made from)"
        )
    return lines


def assemble(
    points: pd.DataFrame,
    samples: dict[tuple[int, str], list[float]],
    runs: pd.DataFrame,
    breakdowns: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
) -> Report:
    """The report's data from what ``load`` (and ``Store.benchmark_history``) return (a pure
    function: testable without a database). Comparisons see rankable points only; the rest
    are listed as not ranked."""
    points = points if "rankable" in points.columns else mark_rankable(points)
    cross = crossovers(points, samples) if not points.empty else pd.DataFrame()
    speed = speedups(points, samples) if not points.empty else pd.DataFrame()
    scaling = scaling_fits(points) if not points.empty else pd.DataFrame()
    not_ranked = not_ranked_points(points)
    table = breakdown_table(points, breakdowns if breakdowns is not None else pd.DataFrame())
    series = commit_series(history if history is not None else pd.DataFrame())
    steps = history_steps(series)
    lines = headline(cross, speed, points)
    top = headline_table(cross, speed)
    if not series.empty:
        if runs.empty:
            lines = ["This store holds no sweep runs, only benchmark history (below)."]
        lines.append(history_headline(series, steps))
    return Report(
        lines, cross, speed, scaling, not_ranked, points, runs, table, series, steps,
        headline_table=top,
    )  # fmt: skip


def history_headline(series: pd.DataFrame, steps: pd.DataFrame) -> str:
    """One sentence on the benchmark history: its size and its largest step, if any."""
    size = (
        f"Benchmark history: {series['fullname'].nunique()} benchmarks over "
        f"{series['commit'].nunique()} commits"
    )
    if steps.empty:
        return f"{size}; no step in time of {MIN_CHANGE:.0%} or more."
    largest = steps.loc[steps["change"].abs().idxmax()]
    return (
        f"{size}; {len(steps)} step(s) in time, the largest {largest['change']:+.1%} for "
        f"{largest['name']} at commit {largest['label']}."
    )


def _table(frame: pd.DataFrame, columns: list[str], floats: str = "{:.3g}") -> Markup:
    """An HTML table whose cells pandas escaped: Markup, so the template does not escape it
    again (every other value the template shows is escaped)."""
    if frame.empty:
        return Markup("<p class='empty'>none</p>")
    shown = frame[[c for c in columns if c in frame.columns]].copy()
    return Markup(
        shown.to_html(
            index=False,
            na_rep="—",
            float_format=floats.format,
            border=0,
            classes="data",
            escape=True,
        )
    )


FIGURES = ("time", "speedup", "order", "depth", "memory", "breakdown")


def template() -> jinja2.Template:
    """The report's template: every value escaped unless it is Markup, and a key it uses that
    the context lacks is an error, not an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2")


def render(report: Report, title: str, base: Path | None = None) -> str:
    """The report as HTML; links to profile traces are relative to ``base`` (the report's
    folder) when given."""
    return template().render(**context(report, title, base))


def context(report: Report, title: str, base: Path | None = None) -> dict:
    """Everything the template shows (pre-rendered tables as Markup, the rest as data)."""
    points = report.points
    colours = figures.palette(points["op"].unique().tolist()) if not points.empty else {}
    env = [json.loads(e) if e else {} for e in report.runs["env_json"]]
    environment = pd.DataFrame(
        [
            {
                "run": run_id,
                "name": name,
                "device": e.get("device_name"),
                "torch": e.get("torch"),
                "triton": e.get("triton"),
                "threads": e.get("torch_threads"),
                "allocator": e.get("allocator"),
                "commit": (e.get("git_commit") or "")[:10]
                + (" (dirty)" if e.get("git_dirty") else ""),
                "started": started,
            }
            for run_id, name, started, e in zip(
                report.runs["id"], report.runs["name"], report.runs["started_at"], env, strict=True
            )
        ]
    )
    ceilings_by_run = {
        run_id: json.loads(c)
        for run_id, c in zip(report.runs["id"], report.runs["ceilings_json"], strict=True)
        if c and c != "null"
    }
    ceilings = list(ceilings_by_run.values())
    figs: dict[str, str | None] = dict.fromkeys(FIGURES)
    overlay, overlay_note = published_overlay(points)
    ranked = rankable_points(points) if not points.empty else points
    if not ranked.empty:
        if ranked["run_id"].nunique() > 1:
            ranked = ranked.assign(run_tag=[f"run {r}" for r in ranked["run_id"]])
        figs = {
            "time": figures.time_vs_length(ranked, colours, overlay),
            "speedup": figures.speedup_vs_length(report.speedups, colours),
            "order": figures.speedup_heatmaps(report.speedups, "order"),
            "depth": figures.speedup_heatmaps(report.speedups, "depth"),
            "memory": figures.memory_vs_length(ranked, colours),
            "breakdown": figures.breakdown_bars(report.breakdowns, BREAKDOWN_ORDER),
        }
    return dict(
        title=title,
        warnings=report.warnings,
        headline=report.headline,
        headline_table=_table(
            headline_cells(report.headline_table), list(headline_cells(report.headline_table))
        ),
        figures=figs,
        environment=_table(environment, list(environment.columns)),
        ceilings=ceilings,
        crossovers=_table(
            report.crossovers,
            [
                "hyena",
                "order",
                "attention",
                "causal",
                "mode",
                "depth",
                "d_model",
                "batch",
                "dtype",
                "crossover_L",
                "ci_low",
                "ci_high",
                "extrapolated",
                "note",
                "lengths",
            ],
            "{:.0f}",
        ),
        scaling=_table(
            report.scaling,
            [
                "op",
                "causal",
                "mode",
                "order",
                "depth",
                "d_model",
                "b",
                "r2",
                "a_ms",
                "points",
                "expected",
                "flag",
            ],
        ),
        correctness=_table(
            points[points["status"].isin(["ok", "wrong", "unchecked"])]  # correctness, not rank
            .groupby([c for c in ("op", "dtype", "causal") if c in points], as_index=False)
            .agg(
                max_rel_error=("max_rel_error", "max"),
                tolerance=("tolerance", "max"),
                points=("point_id", "count"),
            )
            if not points.empty
            else points,
            ["op", "dtype", "causal", "max_rel_error", "tolerance", "points"],
        ),
        not_ranked=_table(
            report.not_ranked,
            [
                "op",
                "causal",
                "mode",
                "dtype",
                "seq_len",
                "d_model",
                "depth",
                "hyena_order",
                "status",
                "not_ranked_because",
                "median_ms",
                "error",
            ],
        ),
        n_points=len(points),
        n_ranked=len(ranked),
        profiles=profile_links(report.breakdowns, base),
        overlay_note=overlay_note,
        **predictions_section(points),
        **costs_section(points, ceilings_by_run),
        bench=history_section(report.bench_series, report.bench_steps),
    )


MAX_HISTORY_PANELS = 12  # benchmarks drawn in the history figure; the tables list them all


def history_section(series: pd.DataFrame, steps: pd.DataFrame) -> dict | None:
    """The benchmark history's figure (at most ``MAX_HISTORY_PANELS`` benchmarks, those with
    the largest steps first), its steps and one row per benchmark; None without history,
    so that a report of sweeps alone has no such section."""
    if series.empty:
        return None
    figure, drawn = figures.benchmark_history(series, steps, MAX_HISTORY_PANELS)
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
    return {
        "figure": figure,
        "drawn": len(drawn),
        "total": total,
        "min_change": f"{MIN_CHANGE:.0%}",
        "min_length": MIN_LENGTH,
        "steps": _table(step_rows, list(step_rows.columns)),
        "summary": _table(summary, list(summary.columns)),
    }


BREAKDOWN_ORDER = [*CATEGORIES, "backward", "other"]


def profile_links(table: pd.DataFrame, base: Path | None) -> list[dict]:
    """One row per profiled point: its parameters, the categories' shares, and a link to its
    trace (relative to the report when ``base`` is given)."""
    rows = []
    if table.empty:
        return rows
    for (op, mode, seq_len, d_model, folder), group in table.groupby(
        ["op", "mode", "seq_len", "d_model", "profile_dir"], dropna=False
    ):
        shares = group.set_index("category")["share"].dropna()
        top = ", ".join(f"{c} {v:.0%}" for c, v in shares.sort_values(ascending=False)[:3].items())
        trace = Path(str(folder)) / "trace.json.gz"
        href = os.path.relpath(trace, base) if base is not None else trace.as_uri()
        if not trace.exists():  # a store copied without its traces
            href = None
        rows.append({"op": op, "mode": mode, "L": seq_len, "D": d_model, "top": top, "trace": href})
    return rows


def published_overlay(points: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """The paper's Figure 4.3 as reference series when a run measured its configuration
    (order-2 Hyena at D=768 in half precision), with the differences stated."""
    from hyperf.analysis.predict import published

    if points.empty:
        return None, ""
    ranked = rankable_points(points)
    match = ranked[
        (ranked["family"] == "hyena")
        & (ranked["d_model"] == 768)
        & (ranked["hyena_order"] == 2)
        & ranked["dtype"].isin(["float16", "bfloat16"])
    ]
    if match.empty:
        return None, ""
    table = published()["paper_fig4_3"]
    rows = [
        {"seq_len": n, "series": f"{series} (Fig 4.3)", "ms": v}
        for series, values in table["series"].items()
        for n, v in zip(table["seq_len"], values, strict=True)
        if v is not None
    ]
    devices = ", ".join(sorted(set(match["device"])))
    batches = ", ".join(str(b) for b in sorted(set(match["batch"])))
    note = (
        f"Grey dotted: the paper's Figure 4.3 ({table['setting'].strip()}). This run: "
        f"{devices}, batch {batches}, modes {', '.join(sorted(set(match['mode'])))}."
    )
    return pd.DataFrame(rows), note


def _step_table(costs: pd.DataFrame, *fixed: str) -> Markup:
    """Resolved per-step costs with their 95 % interval; the unresolved ones counted, not
    shown (a line through two noisy levels, or a cost whose interval is negative)."""
    if costs.empty:
        return _table(costs, [])
    shown = costs[costs["resolved"]]
    columns = ["op", "causal", "mode", "seq_len", *fixed, "per_step_ms", "ci_low_ms"]
    columns += ["ci_high_ms", "r2", "steps"]
    hidden = len(costs) - len(shown)
    note = (
        f"<p class='note'>{hidden} more not resolved (fewer than 3 levels and an interval "
        "that includes zero, or a negative cost): not shown.</p>"
        if hidden
        else ""
    )
    return Markup(_table(shown, columns) + note)


def costs_section(points: pd.DataFrame, ceilings_by_run: dict[int, dict]) -> dict:
    """Depth and order costs, memory crossovers and budgets, throughput and roofline (each
    run's points against that run's calibrated ceilings)."""
    from hyperf.analysis.scaling import memory_crossovers, memory_fits, roofline_table, step_costs

    if points.empty:
        empty = "<p class='empty'>none</p>"
        return dict.fromkeys(
            ("depth_costs", "order_costs", "memory_cross", "memory_fit", "roofline"), empty
        )
    roof = pd.concat(
        [
            roofline_table(group, ceilings_by_run.get(run))
            for run, group in points.groupby("run_id")
        ],
        ignore_index=True,
    )
    if not roof.empty:
        columns = {"tflops": "max", "gbps": "max", "intensity": "median"}
        if "roofline_fraction" in roof:
            columns["roofline_fraction"] = "max"
        keys = [c for c in ("op", "mode", "dtype", "causal") if c in roof]
        roof = roof.groupby(keys, as_index=False).agg(columns)
    fits = memory_fits(points)
    return {
        "depth_costs": _step_table(step_costs(points, "depth"), "hyena_order"),
        "order_costs": _step_table(step_costs(points, "hyena_order"), "depth", "variant"),
        "memory_cross": _table(
            memory_crossovers(points),
            [
                "hyena",
                "order",
                "attention",
                "causal",
                "mode",
                "depth",
                "memory_crossover_L",
                "note",
            ],
            "{:.0f}",
        ),
        "memory_fit": _table(fits, list(fits.columns)),
        "roofline": _table(roof, list(roof.columns)),
    }


def predictions_section(points: pd.DataFrame) -> dict:
    """The prediction model against the paper's Figure 4.3, and predicted GPU crossovers at
    this run's width — all labelled as predictions."""
    from hyperf.analysis.predict import predicted_crossover, published, validate_fig4_3
    from hyperf.analysis.validation import validation_summary

    fig_points, summary = validate_fig4_3("A100-80GB")
    best = summary.iloc[0]
    chosen = fig_points[
        (fig_points["batch"] == best["batch"]) & (fig_points["mode"] == best["mode"])
    ]
    table = chosen.pivot_table(
        index="seq_len", columns="series", values=["published_ms", "predicted_ms", "error_pct"]
    )
    table.columns = [f"{series} {what}" for what, series in table.columns]
    d_model = int(points["d_model"].mode().iloc[0]) if len(points) else 768
    crossings = []
    for gpu in ("A100-80GB", "H100-SXM"):
        for attention in ("attention:flash_attn", "attention:sdpa-math"):
            crossing = predicted_crossover("hyena:fft", attention, gpu, "fwd_bwd", 1, d_model)
            crossings.append(
                {
                    "device": gpu,
                    "pair": f"hyena:fft vs {attention}",
                    "D": d_model,
                    "predicted crossover L": crossing,
                }
            )
    return {
        "prediction_fit": f"batch {best['batch']}, {best['mode']} (median |error| "
        f"{best['median_abs_error_pct']:.0f} %, {best['within_35_pct']} of {best['points']} "
        "points within ±35 %)",
        "prediction_validation": _table(
            validation_summary(),
            [
                "source",
                "kind",
                "reading",
                "gpu",
                "n",
                "median_abs_error_pct",
                "p90_abs_error_pct",
                "worst_abs_error_pct",
                "worst_point",
            ],
            "{:.1f}",
        ),
        "prediction_table": Markup(
            table.reset_index().round(2).to_html(index=False, border=0, classes="data", na_rep="—")
        ),
        "prediction_summary": _table(summary, list(summary.columns)),
        "prediction_crossings": _table(
            pd.DataFrame(crossings), ["device", "pair", "D", "predicted crossover L"], "{:.0f}"
        ),
        "citation": published()["paper_fig4_3"]["citation"].strip(),
    }


def write_report(db: str | Path, run_ids: list[int] | None, output: str | Path) -> Report:
    """Write NAME.html, NAME.md and NAME-*.csv; return the report's data. Every path is
    checked before the store is read (none may be the store or another SQLite file), and the
    files replace the old ones only once all are written."""
    check_outputs([Path(output)], db)  # before deriving the others' names from it
    output = Path(output)
    stem = output.with_suffix("")
    tables = ("headline", "crossovers", "speedups", "scaling", "points")
    csv_paths = {name: Path(f"{stem}-{name}.csv") for name in tables}
    markdown = Path(f"{stem}.md")
    check_outputs([output, markdown, *csv_paths.values()], db)
    if output.suffix.lower() not in (".html", ".htm"):
        raise OutputError(
            f"{output}: the report is HTML; give -o a NAME.html (NAME.md and NAME-*.csv are "
            "written beside it)"
        )
    report = build(db, run_ids)
    runs = ", ".join(
        f"{n} (run {i})" for i, n in zip(report.runs["id"], report.runs["name"], strict=True)
    )
    runs = runs or "benchmark history"
    summary = [
        f"# hyperf report — {runs}",
        "",
        *[f"> **Warning:** {line}\n" for line in report.warnings],
        markdown_table(headline_cells(report.headline_table)),
        "",
        *[f"- {line}" for line in report.headline],
        "",
        f"{len(report.points)} points, {len(report.not_ranked)} not ranked. Tables: "
        f"{stem.name}-headline.csv, -crossovers.csv, -speedups.csv, -scaling.csv, -points.csv.",
    ]
    frames = {
        "headline": report.headline_table,
        "crossovers": report.crossovers,
        "speedups": report.speedups,
        "scaling": report.scaling,
        "points": report.points,
    }
    write_all(
        {
            output: text(render(report, f"hyperf report — {runs}", output.resolve().parent)),
            markdown: text("\n".join(summary) + "\n"),
            **{
                csv_paths[name]: (lambda path, f=frame: f.to_csv(path, index=False))
                for name, frame in frames.items()
            },
        }
    )
    return report
