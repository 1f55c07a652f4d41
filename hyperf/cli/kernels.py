"""``hyperf kernels``: longconv:triton compiled ahead of time, and its static facts."""

from __future__ import annotations

import json

import click
from rich.table import Table

from hyperf.cli.common import wide_console
from hyperf.errors import clear_errors, fail


@click.command("kernels", short_help="Compile the Triton kernel ahead of time; its static facts.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=click.Choice(["sm_80", "sm_90"]),
    help="CUDA architecture to compile for (repeatable; default both).",
)
@click.option(
    "--dtype",
    "dtypes",
    multiple=True,
    type=click.Choice(["float32", "float16", "bfloat16"]),
    help="Input dtype (repeatable; default all three).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@clear_errors
def kernels_command(targets: tuple[str, ...], dtypes: tuple[str, ...], as_json: bool) -> None:
    """Compile longconv:triton's shipped configurations ahead of time (no GPU needed) and
    print registers, shared memory, spills and the SASS instruction mix per configuration.
    Exit 1 if any configuration spills, overflows shared memory or misses the tensor cores.
    Needs the triton extra.

    \b
    Example:
      hyperf kernels --target sm_90 --dtype float16
    """
    try:
        from hyperf.ops.longconv import triton_aot
    except ImportError as error:
        fail(f"{error}; install the triton extra: pip install -e '.[triton]'")
    import torch

    archs = tuple(int(t.removeprefix("sm_")) for t in targets) or triton_aot.TARGETS
    chosen = tuple(getattr(torch, d) for d in dtypes or ("float32", "float16", "bfloat16"))
    rows = triton_aot.kernel_table(archs, chosen)
    if as_json:
        click.echo(json.dumps([r.as_row() for r in rows], indent=2))
        return
    table = Table(title="longconv:triton compiled ahead of time (static facts, not timings)")
    for name in ("target", "L ≤", "N1×N2", "F1,T1,warps,stages", "dtype", "dot", "regs"):
        table.add_column(name, justify="right", no_wrap=True)
    for name in ("smem KiB", "spills", "mma", "wgmma", "LDG", "STG", "shared", "BAR"):
        table.add_column(name, justify="right", no_wrap=True)
    bad = 0
    for r in rows:
        c = r.config
        bad += r.spills or not r.fits_shared or not r.uses_tensor_cores
        table.add_row(
            f"sm_{r.target}",
            str(r.n // 2),
            f"{r.factors[0]}×{r.factors[1]}",
            f"{c.block_f1},{c.block_t1},{c.num_warps},{c.num_stages}",
            r.dtype,
            r.precision,
            str(r.registers),
            ("[red]" if not r.fits_shared else "") + f"{r.shared_bytes / 1024:.0f}/"
            f"{r.shared_limit // 1024}",
            "[red]yes[/]" if r.spills else "no",
            str(r.sass["mma"]),
            str(r.sass["wgmma"]),
            str(r.sass["ld.global"]),
            str(r.sass["st.global"]),
            str(r.sass["shared"]),
            str(r.sass["barrier"]),
        )
    wide_console(150).print(table)
    click.echo("mma/wgmma/LDG/...: static SASS instruction counts, not executed counts.")
    if bad:
        raise click.ClickException(
            f"{bad} configuration(s) spill, overflow shared memory or miss the tensor cores"
        )
