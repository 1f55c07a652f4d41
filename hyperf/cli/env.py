"""``hyperf list``, ``env`` and ``calibrate``: what this machine can run, and what decides
a measurement here."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hyperf.cli.common import wide_console
from hyperf.errors import clear_errors
from hyperf.params import DTYPE_NAMES


@click.command("list", short_help="Every operator, whether it can run here, and why not.")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default=None,
    help="Device to check availability on [default: cuda if present, else cpu].",
)
@click.option(
    "--dtype",
    type=click.Choice(sorted(DTYPE_NAMES)),
    default="float32",
    show_default=True,
    help="Dtype to check availability for (some kernels are fp16/bf16 only).",
)
@clear_errors
def list_backends(device: str | None, dtype: str) -> None:
    """Print every registered operator, whether it can run here, and why not (a missing
    package, no CUDA, a dtype or GPU the kernel lacks), and the oracle it is checked against.

    \b
    Example:
      hyperf list --device cuda --dtype float16
    """
    import torch

    from hyperf import registry

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    table = Table(title=f"hyperf operators on {device} / {dtype}")
    table.add_column("name", no_wrap=True)
    table.add_column("ok", no_wrap=True)
    table.add_column("what it is, or why it cannot run here")
    table.add_column("checked against", no_wrap=True)
    for name in registry.names():
        entry = registry.get(name)
        ok, reason = registry.check_available(name, device, getattr(torch, dtype))
        # An available entry may still carry a caveat (the Triton interpreter on CPU).
        what = (f"{entry.summary} ({reason})" if reason else entry.summary) if ok else reason
        table.add_row(
            name,
            "[green]yes[/]" if ok else "[red]no[/]",
            escape(what),
            entry.oracle or "",
        )
    wide_console(120).print(table)


@click.command("env", short_help="The environment that decides a measurement.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@clear_errors
def env_command(as_json: bool) -> None:
    """Print the environment that decides a measurement: devices, driver, CUDA, torch, triton
    and flash-attn versions, threads, allocator, git commit. Every sweep stores the same
    record with its run.

    \b
    Example:
      hyperf env --json > env.json
    """
    from hyperf.envinfo import capture

    info = capture()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    table = Table(title="hyperf environment", show_header=False)
    for key, value in info.items():
        table.add_row(key, escape(json.dumps(value) if isinstance(value, list) else str(value)))
    Console().print(table)


@click.command("calibrate", short_help="Measure this device's matmul rate and copy bandwidth.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--dtype",
    "dtypes",
    multiple=True,
    type=click.Choice(["float32", "tf32", "float16", "bfloat16", "float64"]),
    help="Matmul dtype (repeatable) [default: float32, bfloat16 on CPU; "
    "float32, tf32, float16, bfloat16 on CUDA].",
)
@click.option(
    "--budget",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds of timing per measurement.",
)
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing when this device's ceilings are already cached (once per machine).",
)
@clear_errors
def calibrate_command(
    device: str, dtypes: tuple[str, ...], budget: float, if_missing: bool
) -> None:
    """Measure this device's matmul rate per dtype and its copy bandwidth, and cache them in
    ~/.cache/hyperf/ceilings.json (HYPERF_CACHE_DIR moves it), keyed by device and threads.
    Sweeps store them with each run; reports use them for roofline fractions and the dry
    run for its predictions. Calibrating again replaces the device's entry.

    \b
    Example:
      hyperf calibrate --if-missing
    """
    from hyperf.measure.ceilings import cache_path, calibrate, load_ceilings, save_ceilings
    from hyperf.measure.timing import TimingOptions

    if if_missing and (cached := load_ceilings(device)) is not None:
        click.echo(
            f"ceilings of {cached.device_name} already cached in {cache_path()} "
            "(run `hyperf calibrate` to measure again)"
        )
        return
    try:
        ceilings = calibrate(device, list(dtypes) or None, TimingOptions(budget_s=budget))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--device") from None
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
