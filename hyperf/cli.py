"""The ``hyperf`` command line."""

from __future__ import annotations

import click
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hyperf import __version__, registry

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}


@click.group()
@click.version_option(__version__, prog_name="hyperf")
def main() -> None:
    """hyperf: where does Hyena beat attention, by how much, at what memory cost?"""


@main.command("list")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default=None,
    help="Device to check availability on (default: cuda if present, else cpu).",
)
@click.option("--dtype", type=click.Choice(sorted(DTYPES)), default="float32", show_default=True)
def list_backends(device: str | None, dtype: str) -> None:
    """Print every registered operator, whether it can run here, and why not."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    table = Table(title=f"hyperf operators on {device} / {dtype}")
    table.add_column("name", no_wrap=True)
    table.add_column("ok", no_wrap=True)
    table.add_column("what it is, or why it cannot run here")
    table.add_column("checked against", no_wrap=True)
    for name in registry.names():
        entry = registry.get(name)
        ok, reason = registry.check_available(name, device, DTYPES[dtype])
        table.add_row(
            name,
            "[green]yes[/]" if ok else "[red]no[/]",
            escape(entry.summary if ok else reason),
            entry.oracle or "",
        )
    Console(width=max(Console().width, 120)).print(table)
