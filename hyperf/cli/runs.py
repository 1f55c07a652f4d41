"""``hyperf runs`` and ``export``: what a store holds, as a table or as files."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from hyperf.cli.common import RUN_ID, db_option, wide_console
from hyperf.errors import clear_errors, fail


@click.command("runs", short_help="List the runs in a store.")
@db_option
@clear_errors
def runs_command(db: str) -> None:
    """List the runs in a store: id, spec name, device, status (running, finished,
    interrupted), start and end, and how many points are stored and ok.

    \b
    Example:
      hyperf runs --db reports/hyperf.db
    """
    from hyperf.store import Store

    with Store(db) as store:
        frame = store.runs()
    if frame.empty:
        click.echo(f"{db} holds no runs yet; `hyperf sweep SPEC --db {db}` makes one")
        return
    table = Table(title=f"runs in {db}")
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(_cell(v)) for v in row))
    wide_console(120).print(table)


def _cell(value) -> str:
    """A table cell: counts as integers (SQLite's SUM comes back as a float), none as '—'."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@click.command("export", short_help="One run's points as CSV, Parquet or JSON.")
@click.argument("run_id", metavar="RUN", type=RUN_ID)
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "json"]),
    default="csv",
    show_default=True,
    help="Output format (parquet needs -o).",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    default=None,
    help="File to write [default: stdout for csv and json].",
)
@clear_errors
def export_command(run_id: int, db: str, fmt: str, output: str | None) -> None:
    """Export run RUN's points (one row per point and mode: parameters, status, median and
    95 % CI, FLOPs, memory; see `hyperf runs` for the ids) as CSV, Parquet or JSON.

    \b
    Examples:
      hyperf export 1 > run1.csv
      hyperf export 1 --format parquet -o run1.parquet
    """
    from hyperf.files import check_outputs, text, write_all
    from hyperf.store import Store

    if fmt == "parquet" and output is None:
        fail("--format parquet needs -o FILE")
    if output is not None:
        check_outputs([Path(output)], db)
    with Store(db) as store:
        if store.run(run_id) is None:
            fail(f"{db} has no run {run_id} (see `hyperf runs --db {db}`)")
        frame = store.points([run_id])
    if fmt == "parquet":
        write_all({Path(output): lambda path: frame.to_parquet(path)})
        return
    content = (
        frame.to_json(orient="records", indent=1) + "\n"
        if fmt == "json"
        else frame.to_csv(index=False)
    )
    if output is None:
        click.echo(content, nl=False)
    else:
        write_all({Path(output): text(content)})
