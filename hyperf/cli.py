"""The ``hyperf`` command line."""

from __future__ import annotations

import json

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


@main.command("env")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def env_command(as_json: bool) -> None:
    """Print the environment that decides a measurement (devices, versions, commit)."""
    from hyperf.envinfo import capture

    info = capture()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    table = Table(title="hyperf environment", show_header=False)
    for key, value in info.items():
        table.add_row(key, escape(json.dumps(value) if isinstance(value, list) else str(value)))
    Console().print(table)


@main.command("calibrate")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--dtype", "dtypes", multiple=True, help="Matmul dtypes (default: per device).")
@click.option("--budget", default=1.0, show_default=True, help="Seconds per measurement.")
def calibrate_command(device: str, dtypes: tuple[str, ...], budget: float) -> None:
    """Measure this device's matmul rate and copy bandwidth; store them for rooflines."""
    from hyperf.measure.ceilings import calibrate, save_ceilings
    from hyperf.measure.timing import TimingOptions

    try:
        ceilings = calibrate(device, list(dtypes) or None, TimingOptions(budget_s=budget))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    table = Table(
        title=f"ceilings of {ceilings.device_name} ({ceilings.device}, {ceilings.threads} threads)"
    )
    table.add_column("what")
    table.add_column("rate", justify="right")
    for dtype, rate in ceilings.matmul_flops.items():
        table.add_row(f"matmul {dtype}", f"{rate / 1e9:,.1f} GFLOP/s")
    table.add_row("copy (read + write)", f"{ceilings.copy_bytes_per_s / 1e9:,.1f} GB/s")
    Console().print(table)
    click.echo(f"saved to {save_ceilings(ceilings)}")
