"""The report's model: every table the report shows, computed once, before anything is laid
out. ``build`` reads the store (and re-plans each run's stored spec to find the incomplete
ones); ``assemble`` is the pure part, from DataFrames to a ``Report``, testable without a
database. The sections (``sections.py``) only lay the model out; ``html.py`` renders them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hyperf import registry
from hyperf.analysis.breakdown import breakdown_table
from hyperf.analysis.claims import claims_table, predicted_speedups
from hyperf.analysis.crossover import crossovers, scaling_fits, speedups
from hyperf.analysis.floor import floor_table
from hyperf.analysis.headline import headline_table, mark_overhead, with_searched
from hyperf.analysis.predict import predicted_crossovers, published
from hyperf.analysis.rank import mark_rankable, not_ranked_points, rankable_points
from hyperf.analysis.scaling import memory_crossovers, memory_fits, step_costs
from hyperf.analysis.search import search_runs, searched_crossovers
from hyperf.analysis.steps import commit_series, history_steps
from hyperf.analysis.summary import (
    ceilings_by_run,
    correctness_table,
    environment_table,
    published_overlay,
    roofline_summary,
)
from hyperf.analysis.validation import fig4_3_reading, validation_summary
from hyperf.format import format_length
from hyperf.report.style import attention_label, exec_suffix
from hyperf.stats.steps import MIN_CHANGE
from hyperf.store import Store
from hyperf.sweep.plan import build_plan
from hyperf.sweep.spec import stored_spec

PREDICTION_GPU = "A100-80GB"  # the GPU the paper trained on: Figure 4.3 is read on it


@dataclass
class Predictions:
    """The prediction model against published timings, and predicted crossovers at the
    run's width: GPU predictions, never measurements."""

    validation: pd.DataFrame  # the model against every published point
    fig4_3: pd.DataFrame  # the paper's Figure 4.3 per L, under the reading that fits best
    readings: pd.DataFrame  # every reading of the figure (batch, mode), best first
    best: str  # the best reading, in words
    crossovers: pd.DataFrame  # predicted crossovers at the run's width
    citation: str  # the figure's source


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
    ranked: pd.DataFrame = field(default_factory=pd.DataFrame)  # the rankable points
    environment: pd.DataFrame = field(default_factory=pd.DataFrame)
    ceilings: dict[int, dict] = field(default_factory=dict)  # calibrated runs' ceilings
    overlay: pd.DataFrame | None = None  # published series drawn beside the times
    overlay_note: str = ""
    depth_costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    order_costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    memory_crossovers: pd.DataFrame = field(default_factory=pd.DataFrame)
    memory_fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    roofline: pd.DataFrame = field(default_factory=pd.DataFrame)
    correctness: pd.DataFrame = field(default_factory=pd.DataFrame)
    predictions: Predictions | None = None
    floor: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.floor, per point
    searches: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.search, per run
    claims: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.claims


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
                f"At L={format_length(seq_len)}, {best['hyena']} (order {best['order']}) is "
                f"{best['speedup']:.2f}× ({best['speedup_low']:.2f}–"
                f"{best['speedup_high']:.2f}) as fast as "
                f"{attention_label(best['attention'], best.get('causal', 1))} "
                f"({best['mode']}{exec_suffix(best.get('exec'))}, depth {best['depth']})."
            )
    if points["family"].nunique() < 2:
        lines.append("Only one family of operators was measured: there is nothing to cross.")
    elif not ranked.empty and ranked["family"].nunique() < 2:
        lines.append("Only one family of operators can be ranked: there is nothing to cross.")
    return lines


def build(db: str | Path, run_ids: list[int] | None = None) -> Report:
    """The report's data: the runs ``run_ids`` (all if None), and the store's whole
    benchmark history (``hyperf bench import``), which belongs to no run."""
    with Store(db) as store:
        points, samples, runs = store.load(run_ids)
        chosen = runs["id"].tolist()
        breakdowns = store.breakdowns(chosen)
        history = store.benchmark_history()
        warnings = incomplete_runs(store, db, chosen)
    return assemble(points, samples, runs, breakdowns, history, warnings)


def assemble(
    points: pd.DataFrame,
    samples: dict[tuple[int, str], list[float]],
    runs: pd.DataFrame,
    breakdowns: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    warnings: list[str] | None = None,
) -> Report:
    """The report's data from what ``Store.load`` (and ``Store.breakdowns``,
    ``Store.benchmark_history``) return: a pure function, testable without a database.
    Comparisons see rankable points only; the rest are listed as not ranked."""
    points = points if "rankable" in points.columns else mark_rankable(points)
    # A search's probes answer its own question (``searches``), not the grid's: every other
    # table is of the swept runs.
    searches = searched_crossovers(points, samples, runs)
    points = points[~points["run_id"].isin(search_runs(runs)["id"])]
    measured = not points.empty
    cross = crossovers(points, samples) if measured else pd.DataFrame()
    speed = speedups(points, samples) if measured else pd.DataFrame()
    scaling = scaling_fits(points) if measured else pd.DataFrame()
    table = breakdown_table(points, breakdowns if breakdowns is not None else pd.DataFrame())
    series = commit_series(history if history is not None else pd.DataFrame())
    steps = history_steps(series)
    lines = headline(cross, speed, points)
    if points.empty and not searches.empty:
        lines = [f"This store's runs are {len(searches)} crossover searches (below), no sweep."]
    if not series.empty:
        if runs.empty:
            lines = ["This store holds no sweep runs, only benchmark history (below)."]
        lines.append(history_headline(series, steps))
    elif runs.empty:
        lines = ["This store holds no runs yet: measure one with hyperf sweep SPEC --db STORE."]
    ceilings, ceiling_problems = ceilings_by_run(runs)
    overlay, overlay_note = published_overlay(points)
    floor = floor_table(points, ceilings) if measured else pd.DataFrame()
    headline_rows = with_searched(mark_overhead(headline_table(cross, speed), floor), searches)
    environment = environment_table(runs)
    return Report(
        lines, cross, speed, scaling, not_ranked_points(points), points, runs, table, series,
        steps,
        warnings=[*(warnings or []), *ceiling_problems],
        headline_table=headline_rows,
        searches=searches,
        ranked=rankable_points(points) if measured else points,
        environment=environment,
        ceilings=ceilings,
        overlay=overlay,
        overlay_note=overlay_note,
        depth_costs=step_costs(points, "depth") if measured else pd.DataFrame(),
        order_costs=step_costs(points, "hyena_order") if measured else pd.DataFrame(),
        memory_crossovers=memory_crossovers(points) if measured else pd.DataFrame(),
        memory_fits=memory_fits(points) if measured else pd.DataFrame(),
        roofline=roofline_summary(points, ceilings),
        correctness=correctness_table(points),
        predictions=predictions(points),
        floor=floor,
        claims=paper_claims(speed, cross, headline_rows, points, environment),
    )  # fmt: skip


def paper_claims(
    speed: pd.DataFrame,
    cross: pd.DataFrame,
    headline_rows: pd.DataFrame,
    points: pd.DataFrame,
    environment: pd.DataFrame,
) -> pd.DataFrame:
    """The paper's claims (``hyperf.analysis.claims``) on this report's rankable points: each
    operator's paper role from the registry, a searched crossover first (the headline's), each
    run's device by name, and the model's predictions beside them."""
    ops = points["op"].unique() if len(points) else []
    roles = {op: entry.paper_role for op in ops if (entry := registry.lookup(op)) is not None}
    crossings = (
        pd.concat([headline_rows, cross], ignore_index=True) if len(cross) else headline_rows
    )
    devices = dict(zip(environment.get("run", []), environment.get("device", []), strict=True))
    figure = published()["paper_fig4_3"]
    return claims_table(speed, crossings, roles, figure, devices, predicted_speedups())


def predictions(points: pd.DataFrame) -> Predictions:
    """The prediction model against every published point and the paper's Figure 4.3, and
    the predicted GPU crossovers at the width the run measured most (768 without points)."""
    per_point, readings, best = fig4_3_reading(PREDICTION_GPU)
    d_model = int(points["d_model"].mode().iloc[0]) if len(points) else 768
    return Predictions(
        validation=validation_summary(),
        fig4_3=per_point,
        readings=readings,
        best=best,
        crossovers=predicted_crossovers(d_model),
        citation=published()["paper_fig4_3"]["citation"].strip(),
    )


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


def incomplete_runs(store: Store, db: str | Path, run_ids: list[int]) -> list[str]:
    """One line per run that does not hold every point its stored spec plans (re-planned as
    the driver plans it) or was not finished: how many of its planned points are stored, its
    status, and the command that finishes it."""
    lines = []
    for run_id in run_ids:
        run = store.run(run_id)
        if run.get("kind") == "search":
            if run["status"] != "finished":
                lines.append(
                    f"Search run {run_id} ({run['name']}) was stopped (status {run['status']})"
                    f"; continue it with: hyperf crossover --resume {run_id} --db "
                    f"{shlex.quote(str(db))}"
                )
            continue
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
