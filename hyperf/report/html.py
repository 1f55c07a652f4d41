"""One self-contained HTML report (figures and CSS inline), plus Markdown and CSV beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from hyperf.analysis import load
from hyperf.analysis.breakdown import breakdown_table, load_breakdowns
from hyperf.analysis.crossover import crossovers, scaling_fits, speedups
from hyperf.analysis.headline import headline_table
from hyperf.analysis.rank import mark_rankable, not_ranked_points, rankable_points
from hyperf.analysis.steps import commit_series, history_steps
from hyperf.analysis.summary import incomplete_runs
from hyperf.files import OutputError, check_outputs, text, write_all
from hyperf.format import format_length, format_speedup, markdown_table
from hyperf.report.headline import headline_cells
from hyperf.report.sections import Section, sections
from hyperf.report.style import attention_label
from hyperf.stats.steps import MIN_CHANGE
from hyperf.store import Store

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
            speedup = format_speedup(best["speedup"], best["speedup_low"], best["speedup_high"])
            lines.append(
                f"At L={format_length(seq_len)}, {best['hyena']} (order {best['order']}) is "
                f"{speedup} as fast as "
                f"{attention_label(best['attention'], best.get('causal', 1))} "
                f"({best['mode']}, depth {best['depth']})."
            )
    if points["family"].nunique() < 2:
        lines.append("Only one family of operators was measured: there is nothing to cross.")
    elif not ranked.empty and ranked["family"].nunique() < 2:
        lines.append("Only one family of operators can be ranked: there is nothing to cross.")
    return lines


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
    elif runs.empty:
        lines = ["This store holds no runs yet: measure one with hyperf sweep SPEC --db STORE."]
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


def template() -> jinja2.Template:
    """The report's template: every value escaped unless it is Markup, and a key it uses that
    the context lacks is an error, not an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2")


def render(
    report: Report, title: str, base: Path | None = None, csv_stem: str | None = None
) -> str:
    """The report as HTML; links to profile traces are relative to ``base`` (the report's
    folder) when given, and each table links to its CSV ``{csv_stem}-{name}.csv`` when given."""
    return page(report, title, sections(report, base), csv_stem)


def page(report: Report, title: str, built: list[Section], csv_stem: str | None) -> str:
    """The HTML of already built sections, under the incomplete-run banner and the counts."""
    points = report.points
    ranked = rankable_points(points) if not points.empty else points
    return template().render(
        title=title,
        warnings=report.warnings,
        n_points=len(points),
        n_ranked=len(ranked),
        sections=built,
        csv_stem=csv_stem,
    )


def write_report(db: str | Path, run_ids: list[int] | None, output: str | Path) -> Report:
    """Write NAME.html, NAME.md and NAME-{table}.csv for every table of every section; return
    the report's data. Every path is checked before anything is written (none may be the store
    or another SQLite file), and the files replace the old ones only once all are written."""
    check_outputs([Path(output)], db)  # before deriving the others' names from it
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise OutputError(
            f"{output}: the report is HTML; give -o a NAME.html (NAME.md and NAME-*.csv are "
            "written beside it)"
        )
    stem = output.with_suffix("")
    markdown = Path(f"{stem}.md")
    check_outputs([output, markdown], db)
    report = build(db, run_ids)
    built = sections(report, output.resolve().parent)
    tables = [table for section in built for table in section.tables]
    csv_paths = {table.name: Path(f"{stem}-{table.name}.csv") for table in tables}
    check_outputs([output, markdown, *csv_paths.values()], db)
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
        f"{len(report.points)} points, {len(report.not_ranked)} not ranked. Every table of "
        f"{output.name} is beside it as CSV: "
        + ", ".join(path.name for path in csv_paths.values())
        + ".",
    ]
    write_all(
        {
            output: text(page(report, f"hyperf report — {runs}", built, stem.name)),
            markdown: text("\n".join(summary) + "\n"),
            **{
                csv_paths[table.name]: (lambda path, f=table.frame: f.to_csv(path, index=False))
                for table in tables
            },
        }
    )
    return report
