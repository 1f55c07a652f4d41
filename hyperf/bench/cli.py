"""``hyperf bench``: pytest-benchmark results as a regression gate.

This module imports neither torch nor hyperf.cli: hyperf.cli loads it when `bench` is named,
and lists it by the first line of the group's docstring (``hyperf.cli.LISTED_HELP``).
Subcommands from other modules join the group at the bottom of this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hyperf.errors import clear_errors
from hyperf.format import format_seconds

if TYPE_CHECKING:
    from hyperf.bench.gate import Comparison, Report

VERDICT_STYLE = {
    "regression": "bold red",
    "improvement": "green",
    "unchanged": "",
    "inconclusive": "yellow",
    "too few samples": "dim",
}


@click.group()
def bench() -> None:
    """pytest-benchmark results: the regression gate, and their history across commits."""


@bench.command("compare", short_help="Compare two pytest-benchmark runs; exit 1 on a regression.")
@click.argument("base", metavar="BASE.json")
@click.argument("new", metavar="NEW.json")
@click.option(
    "--thresholds",
    "thresholds_path",
    default=None,
    metavar="FILE",
    help="TOML or YAML file: default = 0.10, alpha = 0.01, [groups] pattern = threshold "
    "[default: [tool.hyperf.bench] in ./pyproject.toml, else built-in].",
)
@click.option(
    "--alpha", type=float, default=None, help="Significance level of the test [default: 0.01]."
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Relative threshold for benchmarks no [groups] pattern matches [default: 0.10].",
)
@click.option(
    "--db",
    "history_db",
    default=None,
    metavar="DB",
    help="Store of earlier runs (hyperf bench import): their run-to-run spread is the noise "
    "where a side holds one process.",
)
@click.option(
    "--control",
    is_flag=True,
    help="Divide each process's times by its control benchmarks' (group control-<device>): "
    "cancels a machine-wide slowdown between runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout instead of a table.")
@clear_errors
def compare_command(
    base: str,
    new: str,
    thresholds_path: str | None,
    alpha: float | None,
    threshold: float | None,
    history_db: str | None,
    control: bool,
    as_json: bool,
) -> None:
    """Compare two pytest-benchmark JSON files (written with --benchmark-save-data).

    Per benchmark: the ratio NEW/BASE with its CI, a test and a verdict (regression,
    improvement, unchanged, inconclusive, too few samples). The test: processes as the units
    when both files hold several (bench merge, bench ab); else the run-to-run spread of the
    history in --db; else within-run samples, which can say inconclusive but never
    regression. Exit 1 if any benchmark regressed, 2 on bad input, 0 otherwise."""
    from hyperf.bench.gate import compare_files
    from hyperf.bench.thresholds import load_thresholds

    settings = load_thresholds(thresholds_path, Path.cwd(), alpha=alpha, default=threshold)
    report = compare_files(base, new, settings, history_db, control)
    show_report(report, as_json)


def show_report(report: Report, as_json: bool) -> None:
    """Print the gate's report (a table, or JSON to stdout) and exit 1 on a regression."""
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report)
    if report.regressed:
        sys.exit(1)


@bench.command("merge", short_help="Merge runs of the suite in separate processes into one file.")
@click.argument("output", metavar="OUT.json")
@click.argument("runs", metavar="RUN.json...", nargs=-1, required=True)
@clear_errors
def merge_command(output: str, runs: tuple[str, ...]) -> None:
    """Merge pytest-benchmark JSON files of one commit, each from its own process, into OUT.json.

    Each benchmark keeps every sample and which process took it, so `hyperf bench compare`
    can treat processes as the independent units: on a shared CPU whole processes drift by
    more than a single run's CI shows. OUT.json is written whole or not at all."""
    from hyperf.bench.files import merge_runs, read_json
    from hyperf.files import check_outputs, text, write_all

    merged = merge_runs([(path, read_json(path)) for path in runs])
    out = Path(output)
    check_outputs([out])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_all({out: text(json.dumps(merged, indent=1))})
    counts = {len(b["extra_info"]["hyperf_process_rounds"]) for b in merged["benchmarks"]}
    click.echo(
        f"merged {len(runs)} runs: {len(merged['benchmarks'])} benchmarks, "
        f"{'/'.join(map(str, sorted(counts)))} processes each, into {output}"
    )


def print_report(report: Report) -> None:
    """The comparison as a table, then missing and new benchmarks, warnings and a summary."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=max(Console().width, 180))
    table = Table(
        title=f"{escape(report.new_file)} vs {escape(report.base_file)} "
        f"(NEW / BASE; {100 * report.confidence:.12g}% CI)"
    )
    table.add_column("benchmark", overflow="fold", min_width=20)
    table.add_column("group", overflow="fold")
    table.add_column("params", overflow="fold", min_width=12)
    columns = ["base median", "new median"]
    columns += ["plain change", "control change"] if report.control else []
    columns += ["change [CI]", "p", "test", "threshold"]
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for c in report.comparisons:
        style = VERDICT_STYLE[c.verdict]
        controls = []
        if report.control:
            controls = [_change(c.uncontrolled_ratio), _change(c.control_ratio)]
            if c.is_control:
                controls = [_change(c.ratio), "(a control)"]
        table.add_row(
            escape(c.name),
            escape(c.group or ""),
            escape(format_params(c.params)),
            format_median(c.base_median_s, c.base_rounds, c.base_processes),
            format_median(c.new_median_s, c.new_rounds, c.new_processes),
            *controls,
            format_change(c),
            format_p(c.p_value),
            format_method(c),
            f"{c.threshold:.0%}"
            + (f" ({escape(c.threshold_pattern)})" if c.threshold_pattern else ""),
            f"[{style}]{c.verdict}[/]" if style else c.verdict,
        )
    console.print(table)
    if report.history:
        console.print(f"history: {escape(report.history)}", soft_wrap=True, highlight=False)
    notes = [c for c in report.comparisons if c.note]
    if notes:
        console.print(
            f"note: {len(notes)} benchmark(s) inconclusive on within-run evidence only, e.g. "
            f"{escape(notes[0].name)}: {escape(notes[0].note or '')}",
            soft_wrap=True,
            highlight=False,
        )
    for title, keys in (("missing from NEW", report.missing), ("new in NEW", report.new)):
        if keys:
            console.print(f"{title} ({len(keys)}):")
            for key in keys:
                console.print(f"  {escape(key)}", soft_wrap=True, highlight=False)
    for line in report.machine_warnings:
        console.print(
            f"[yellow]warning:[/] the machines differ: {escape(line)}",
            soft_wrap=True,
            highlight=False,
        )
    counts = report.counts()
    if counts.get("inconclusive") and len(notes) < counts["inconclusive"]:
        console.print(
            "note: inconclusive: the change may pass the threshold but the evidence does not "
            "show it; more processes a side (bench ab --processes) narrow a process-level CI, "
            "more rounds (pytest --benchmark-min-rounds) a within-run one.",
            soft_wrap=True,
        )
    verdicts = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    console.print(
        f"{len(report.comparisons)} compared: {verdicts or 'nothing'}; {len(report.missing)} "
        f"missing, {len(report.new)} new; alpha {report.alpha:g}, thresholds from "
        f"{escape(report.thresholds_from)} — "
        + ("[bold red]REGRESSION[/]" if report.regressed else "no regression"),
        soft_wrap=True,
        highlight=False,
    )


def format_p(p_value: float | None) -> str:
    if p_value is None:
        return ""
    return f"{p_value:.2g}" if p_value > 0 else "<1e-300"  # 0: below what a float holds


def format_median(median_s: float, rounds: int, processes: int) -> str:
    """A side's time with its sample count, and its process count when several."""
    return format_seconds(median_s) + (
        f" ({rounds} in {processes})" if processes > 1 else f" ({rounds})"
    )


def _change(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio - 1:+.1%}"


def format_method(c: Comparison) -> str:
    """Which test decided, and on what: processes, history runs, or one process a side."""
    if c.method == "history":
        return f"history ({c.history_runs} runs, σ {c.history_spread:.1%})"
    if c.method == "processes":
        return "processes"
    return c.method


def format_change(c: Comparison) -> str:
    change = f"{c.ratio - 1:+.1%}"
    if c.ci_low is None or c.ci_high is None:
        return change
    return f"{change} [{c.ci_low - 1:+.1%}, {c.ci_high - 1:+.1%}]"


def format_params(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (params or {}).items())


from hyperf.bench.ab import ab_command  # noqa: E402
from hyperf.bench.history import history_command, import_command  # noqa: E402

bench.add_command(import_command)
bench.add_command(history_command)
bench.add_command(ab_command)
