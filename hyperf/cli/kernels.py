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
    print per configuration and launch: registers, programs per SM, shared memory, spills,
    the tensor-core instructions and their operand type, and one program's bytes.
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
    heads = ("target", "L ≤", "N1×N2", "launch", "F1,T1,rows,warps", "input", "dtype", "MMA on")
    heads += ("regs",)
    heads += ("progs/SM", "smem KiB", "spills", "mma", "wgmma", "min KiB", "moved KiB", "×min")
    for name in heads:
        table.add_column(name, justify="right", no_wrap=True)
    bad = 0
    for r in rows:
        c, t = r.config, r.traffic
        bad += r.spills or not r.fits_shared or not r.uses_tensor_cores
        table.add_row(
            f"sm_{r.target}",
            str(r.n // 2),
            f"{r.factors[0]}×{r.factors[1]}",
            r.stage,
            f"{c.block_f1},{c.block_t1},{c.rows},{c.num_warps}",
            "held" if c.resident else "streamed",
            r.dtype,
            r.mma_operands + (" ×3" if r.precision == "tf32x3" else ""),
            str(r.registers),
            str(r.programs_per_sm),
            ("[red]" if not r.fits_shared else "") + f"{r.shared_bytes / 1024:.0f}/"
            f"{r.shared_limit // 1024}",
            "[red]yes[/]" if r.spills else "no",
            str(r.sass["mma"]),
            str(r.sass["wgmma"]),
            f"{t.minimum / 1024:.0f}",
            f"{(t.loads + t.stores) / 1024:.0f}",
            f"{(t.loads + t.stores) / t.minimum:.1f}",
        )
    wide_console(190).print(table)
    click.echo(
        "mma/wgmma: static SASS instruction counts (HMMA/HGMMA), not executed counts. MMA on: "
        "the operand type (×3: tf32x3, three products). min/moved KiB: one program's bytes "
        "at L = n/2, gated with skip, by the kernel's own account (triton_monarch.traffic): "
        "the least the convolution needs vs what its loads and stores request, re-reads "
        "included (mostly L1/L2 hits). input: read once and held on chip, or streamed again "
        "for every block of f1. progs/SM: as its registers allow."
    )
    if bad:
        raise click.ClickException(
            f"{bad} configuration(s) spill, overflow shared memory or miss the tensor cores"
        )
