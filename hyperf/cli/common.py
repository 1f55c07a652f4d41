"""What every command shares: the lazily loading top-level group, its error form, the store
option and wide tables.

Imports nothing heavy: `hyperf --help` imports every command module but the bench group's,
so a command imports torch, pandas or seaborn inside its body, where it runs.
"""

from __future__ import annotations

import functools
import importlib

import click
from rich.console import Console

MAX_RUN_ID = 2**63 - 1  # SQLite's largest INTEGER: a larger id cannot even be looked up
RUN_ID = click.IntRange(1, MAX_RUN_ID)  # every run-id argument and option
DB_HELP = "SQLite store written by `hyperf sweep` (opened read-only)."
db_option = click.option("--db", default="reports/hyperf.db", show_default=True, help=DB_HELP)


def print_cells(cells, title: str, min_width: int) -> None:
    """A DataFrame of text cells (``hyperf.report.headline``'s) as a rich table, every cell
    escaped; nothing when it has no rows."""
    from rich.markup import escape
    from rich.table import Table

    if cells.empty:
        return
    table = Table(title=title)
    for column in cells.columns:
        table.add_column(column)
    for row in cells.itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in row))
    wide_console(min_width).print(table)


def wide_console(min_width: int) -> Console:
    """A console at least ``min_width`` columns wide, so tables keep their columns in a
    narrow terminal or a pipe."""
    return Console(width=max(Console().width, min_width))


def _show_error(error: click.ClickException, file=None) -> None:
    """Click's own refusals (a bad choice, a missing argument, an unknown command) in the form
    every other bad input takes: ``error: …`` first, then the usage and where help is."""
    click.echo(f"error: {error.format_message()}", file=file, err=file is None)
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        click.echo(
            f"{ctx.get_usage()}\n(see `{ctx.command_path} --help`)", file=file, err=file is None
        )


class LazyGroup(click.Group):
    """click's lazy-group pattern: ``lazy_subcommands`` maps a name to ``module.attribute``,
    imported only when the command is named (or listed, for its short help). A group in
    ``listed_help`` is listed with that text instead, so listing does not import it.

    Click's usage errors print as ``error: …`` (exit 2), like every other bad input."""

    def __init__(
        self,
        *args,
        lazy_subcommands: dict[str, str] | None = None,
        listed_help: dict[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}
        self.listed_help = listed_help or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_subcommands:
            return super().get_command(ctx, name)
        module, _, attribute = self.lazy_subcommands[name].rpartition(".")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[name]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, with the short help of a ``listed_help`` group made from
        that text (as click makes it from the group's docstring) rather than by importing it."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in self.listed_help:
                command = click.Command(name, help=self.listed_help[name])
            else:
                command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as error:
            error.show = functools.partial(_show_error, error)  # type: ignore[method-assign]
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            error.show = functools.partial(_show_error, error)  # type: ignore[method-assign]
            raise
