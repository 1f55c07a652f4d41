"""``hyperf report``: the HTML report of stored runs, and the headline table it prints."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from hyperf.cli.common import RUN_ID, db_option, print_cells, wide_console
from hyperf.errors import clear_errors


@click.command("report", short_help="A self-contained HTML report of some or all runs.")
@click.argument("run_ids", metavar="[RUN]...", type=RUN_ID, nargs=-1)
@db_option
@click.option(
    "-o",
    "--output",
    metavar="FILE.html",
    default="reports/report.html",
    show_default=True,
    help="HTML file; FILE.md and FILE-*.csv are written beside it.",
)
@clear_errors
def report_command(run_ids: tuple[int, ...], db: str, output: str) -> None:
    """Write a self-contained HTML report (figures inline, opens offline) of RUNs [default:
    every run in the store], with a Markdown summary and CSV tables beside it, and print its
    headline table.

    \b
    Examples:
      hyperf report -o reports/quick.html
      hyperf report 1 2 --db reports/hyperf.db -o reports/compare.html
    """
    from hyperf.report.html import write_report

    report = write_report(db, list(run_ids) or None, output)
    print_headline(report.headline_table, report.headline, report.warnings)
    click.echo(f"report written to {Path(output).resolve()}")


def print_headline(table, lines: list[str], warnings: list[str]) -> None:
    """The headline table (as in the report), its few sentences, and any warning."""
    from hyperf.report.headline import headline_cells

    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    print_cells(headline_cells(table), "Headline (measured; 95 % intervals)", 140)
    console = wide_console(140)
    for line in lines:
        console.print(f"• {escape(line)}")
