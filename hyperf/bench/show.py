"""How the regression gate's report is shown: a rich table with notes and a summary, or JSON;
used by ``hyperf bench compare`` and ``hyperf bench ab``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from hyperf.bench.gate import Comparison, Report
from hyperf.format import format_seconds

VERDICT_STYLE = {
    "regression": "bold red",
    "improvement": "green",
    "unchanged": "",
    "inconclusive": "yellow",
    "too few samples": "dim",
}


def show_report(report: Report, as_json: bool) -> None:
    """Print the gate's report (a table, or JSON to stdout) and exit 1 on a regression."""
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report)
    if report.regressed:
        sys.exit(1)


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
