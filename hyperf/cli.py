"""The ``hyperf`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hyperf import __version__, registry
from hyperf.bench.cli import bench
from hyperf.errors import clear_errors, fail

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


main.add_command(bench)


@main.command("list")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default=None,
    help="Device to check availability on (default: cuda if present, else cpu).",
)
@click.option("--dtype", type=click.Choice(sorted(DTYPES)), default="float32", show_default=True)
@clear_errors
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
        # An available entry may still carry a caveat (the Triton interpreter on CPU).
        what = (f"{entry.summary} ({reason})" if reason else entry.summary) if ok else reason
        table.add_row(
            name,
            "[green]yes[/]" if ok else "[red]no[/]",
            escape(what),
            entry.oracle or "",
        )
    Console(width=max(Console().width, 120)).print(table)


@main.command("env")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@clear_errors
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
@clear_errors
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


@main.command("sweep")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--db", default="reports/hyperf.db", show_default=True, help="SQLite store.")
@click.option("--device", default=None, help="Override the spec's device (auto, cpu, cuda).")
@click.option(
    "--resume",
    "resume",
    default=None,
    is_flag=False,
    flag_value="latest",
    help="Continue run RUN (or, with no value, the latest run of this spec).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --resume: measure the run's timeout and crashed points again.",
)
@click.option(
    "--profile",
    "profile_all",
    is_flag=True,
    help="Also profile each point's first repeat (after timing it): trace and breakdown.",
)
@click.option(
    "--profile-filter",
    default=None,
    help="Profile only matching points, e.g. 'op=hyena:fft,seq_len>=4096' (implies --profile).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan with predictions; run nothing.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--ray-address", default=None, help="Address of an existing Ray cluster.")
@click.option("--quiet", is_flag=True, help="Log lines instead of a progress bar.")
@clear_errors
def sweep_command(
    spec_path: str,
    db: str,
    device: str | None,
    resume: str | None,
    retry_failed: bool,
    profile_all: bool,
    profile_filter: str | None,
    dry_run: bool,
    executor: str,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Run the sweep described by SPEC (a YAML file) and store every point."""
    from hyperf.sweep.driver import SweepInterrupted, run_sweep
    from hyperf.sweep.spec import load_spec

    if retry_failed and resume is None:
        fail("--retry-failed measures a resumed run's timeout/crashed points again; add --resume")
    if resume is not None and resume != "latest" and not resume.isdigit():
        fail(f"--resume takes a run id (see `hyperf runs --db {db}`) or no value; got {resume!r}")
    registry.names()  # a broken HYPERF_PLUGINS module is reported as such, not as a spec error
    spec, text = load_spec(spec_path)
    if dry_run:
        from hyperf.sweep.dryrun import print_plan

        print_plan(spec, device)
        return
    try:
        summary = run_sweep(
            spec,
            text,
            db,
            device=device,
            executor=executor,
            ray_address=ray_address,
            resume=True if resume == "latest" else resume,
            retry_failed=retry_failed,
            profile=profile_filter if profile_filter is not None else ("" if profile_all else None),
            quiet=quiet,
        )
    except SweepInterrupted as stop:
        where = (
            f"run {stop.run_id} is marked interrupted; continue it with "
            f"`hyperf sweep {spec_path} --db {db} --resume {stop.run_id}`"
            if stop.run_id
            else ""
        )
        click.echo(f"\nstopped by {stop}; every finished repeat is stored. {where}", err=True)
        sys.exit(128 + stop.signum)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    click.echo(
        f"run {summary.run_id}: {summary.planned} points planned, "
        f"{summary.already_done} already stored, measured now: {counts or 'none'} "
        f"in {summary.wall_s:.0f} s"
    )
    click.echo(f"results in {db} (hyperf runs --db {db}; hyperf export {summary.run_id})")


@main.command("runs")
@click.option("--db", default="reports/hyperf.db", show_default=True)
@clear_errors
def runs_command(db: str) -> None:
    """List the runs in a store."""
    from hyperf.store import Store

    with Store(db) as store:
        frame = store.runs()
    table = Table(title=f"runs in {db}")
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in row))
    Console(width=max(Console().width, 120)).print(table)


@main.command("export")
@click.argument("run_id", type=int)
@click.option("--db", default="reports/hyperf.db", show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "json"]),
    default="csv",
    show_default=True,
)
@click.option("-o", "--output", default=None, help="File to write (default: stdout for csv/json).")
@clear_errors
def export_command(run_id: int, db: str, fmt: str, output: str | None) -> None:
    """Export one run's points as CSV, Parquet or JSON."""
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


@main.command("report")
@click.argument("run_ids", metavar="[RUN]...", type=int, nargs=-1)
@click.option("--db", default="reports/hyperf.db", show_default=True)
@click.option(
    "-o",
    "--output",
    default="reports/report.html",
    show_default=True,
    help="HTML file; NAME.md and NAME-*.csv are written beside it.",
)
@clear_errors
def report_command(run_ids: tuple[int, ...], db: str, output: str) -> None:
    """Write a self-contained HTML report of RUNs (default: every run in the store)."""
    from hyperf.report.html import write_report

    report = write_report(db, list(run_ids) or None, output)
    console = Console(width=max(Console().width, 120))
    for line in report.headline:
        console.print(f"• {escape(line)}")
    click.echo(f"report written to {Path(output).resolve()}")


@main.command("predict")
@click.option(
    "--device",
    "gpu",
    default="A100-80GB",
    show_default=True,
    help="A GPU from the device table (hyperf/data/devices.yaml).",
)
@click.option("--batch", default=1, show_default=True)
@click.option("--d-model", default=768, show_default=True)
@click.option("--mode", type=click.Choice(["fwd", "fwd_bwd"]), default="fwd_bwd", show_default=True)
@click.option(
    "--dtype",
    type=click.Choice(["float16", "bfloat16", "float32"]),
    default="float16",
    show_default=True,
)
@click.option(
    "--validate/--no-validate",
    default=True,
    show_default=True,
    help="Also compare the model with the paper's Figure 4.3.",
)
def predict_command(
    gpu: str, batch: int, d_model: int, mode: str, dtype: str, validate: bool
) -> None:
    """PREDICTED GPU times (a roofline model, not measurements) and crossovers."""
    from hyperf.analysis.predict import (
        compare_flashfftconv,
        devices,
        predict,
        predicted_crossover,
        validate_fig4_3,
    )
    from hyperf.workload import Workload

    if gpu not in devices():
        raise click.BadParameter(
            f"unknown device {gpu!r}; known: {', '.join(devices())}", param_hint="--device"
        )
    ops = [
        "hyena:fft",
        "hyena:blocked",
        "hyena:triton",
        "attention:flash_attn",
        "attention:sdpa-math",
    ]
    table = Table(
        title=f"PREDICTED ms on {gpu}, {mode}, B={batch}, D={d_model}, {dtype} "
        f"({devices()[gpu]['source']})"
    )
    table.add_column("L", justify="right")
    for op in ops:
        table.add_column(op, justify="right")
    heads = max(1, d_model // 64)
    for exponent in range(10, 17):
        seq_len = 2**exponent
        cells = []
        for op in ops:
            w = Workload(op, batch, seq_len, d_model, dtype, n_heads=heads)
            try:
                cells.append(f"{1e3 * predict(w, mode, gpu).seconds:.3g}")
            except ValueError:  # a length this backend does not handle
                cells.append("—")
        table.add_row(str(seq_len), *cells)
    console = Console(width=max(Console().width, 120))
    console.print(table)
    for attention in ("attention:flash_attn", "attention:sdpa-math"):
        crossing = predicted_crossover("hyena:fft", attention, gpu, mode, batch, d_model, dtype)
        where = f"L ≈ {crossing:,.0f}" if crossing else "no crossing up to 1M"
        console.print(f"predicted crossover hyena:fft vs {attention}: {where}")
    flash_fft = compare_flashfftconv(gpu)
    console.print(
        f"\nLong convolution alone, forward, B=64, H=768, fp16: PREDICTED on {gpu} vs "
        "FlashFFTConv's published H100-SXM ms"
    )
    console.print(escape(flash_fft.round(3).to_string(index=False)))
    if validate:
        points, summary = validate_fig4_3(gpu)
        console.print("\nModel vs the paper's Figure 4.3 (published ms), per candidate setting:")
        console.print(escape(summary.to_string(index=False)))
        best = summary.iloc[0]
        chosen = points[(points["batch"] == best["batch"]) & (points["mode"] == best["mode"])]
        console.print(f"\nBest fit: batch {best['batch']}, {best['mode']} — error per point (%):")
        console.print(
            escape(
                chosen.pivot_table(index="seq_len", columns="series", values="error_pct")
                .round(0)
                .to_string()
            )
        )


@main.command("kernels")
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
def kernels_command(targets: tuple[str, ...], dtypes: tuple[str, ...], as_json: bool) -> None:
    """Compile the Triton kernel's shipped configurations ahead of time (no GPU needed) and
    print registers, shared memory, spills and instruction mix per configuration."""
    try:
        from hyperf.ops.longconv import triton_aot
    except ImportError as error:
        raise click.ClickException(f"{error}; install the triton extra") from None
    archs = tuple(int(t.removeprefix("sm_")) for t in targets) or triton_aot.TARGETS
    chosen = tuple(DTYPES[d] for d in dtypes) or (torch.float32, torch.float16, torch.bfloat16)
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
    Console(width=max(Console().width, 150)).print(table)
    click.echo("mma/wgmma/LDG/...: static SASS instruction counts, not executed counts.")
    if bad:
        raise click.ClickException(
            f"{bad} configuration(s) spill, overflow shared memory or miss the tensor cores"
        )


# The sweep's point parameters as options: PointParams field → option name (for messages).
POINT_OPTIONS = {
    "op": "--op",
    "seq_len": "--seq-len",
    "d_model": "--d-model",
    "batch": "--batch",
    "dtype": "--dtype",
    "order": "--order",
    "depth": "--depth",
    "n_heads": "--heads",
    "variant": "--variant",
    "emb_dim": "--emb-dim",
    "filter_order": "--filter-order",
    "modulate": "--modulate",
}


def point_from_options(given: dict):
    """The Workload the options describe, validated by the sweep's own rules (PointParams);
    a ValueError naming the option otherwise."""
    from pydantic import ValidationError

    from hyperf.sweep.spec import PointParams

    try:
        return PointParams.model_validate(given).workload()
    except ValidationError as error:
        problems = []
        for e in error.errors():
            message = e["msg"].removeprefix("Value error, ")
            if e["loc"]:
                problems.append(f"{POINT_OPTIONS.get(str(e['loc'][0]), e['loc'][0])}: {message}")
            else:  # a rule across fields; its message starts with the field it names
                first, _, rest = message.partition(" ")
                problems.append(f"{POINT_OPTIONS.get(first, first)} {rest}")
        raise ValueError("; ".join(problems)) from None


def stored_point(point_id: str, db: str):
    """The Workload and mode of point ``point_id`` in the store ``db`` (its latest run)."""
    from hyperf.store import Store
    from hyperf.workload import Workload

    with Store(db) as store:
        points = store.points()
    rows = points[points["point_id"] == point_id].sort_values("run_id")
    if rows.empty:
        raise ValueError(f"no point {point_id} in {db} (see `hyperf export RUN --db {db}`)")
    stored = json.loads(rows["params_json"].iloc[-1])
    return Workload(**stored["workload"]), stored["mode"]


@main.command("profile")
@click.option("--op", default=None, help="Operator (see `hyperf list`).")
@click.option("--seq-len", type=int, default=None, help="Sequence length L.")
@click.option("--d-model", type=int, default=None, help="Model width D.")
@click.option("--batch", type=int, default=None)
@click.option("--dtype", default=None, help="float32, float16, bfloat16 or float64.")
@click.option("--order", type=int, default=None, help="Hyena order N.")
@click.option("--depth", type=int, default=None, help="0: the bare mixer; k: k blocks.")
@click.option("--heads", type=int, default=None, help="Attention heads.")
@click.option("--variant", default=None, help="Hyena variant: safari or paper.")
@click.option("--emb-dim", type=int, default=None, help="Hyena filter's positional features.")
@click.option("--filter-order", type=int, default=None, help="Width of the filter MLP.")
@click.option("--modulate/--no-modulate", default=None, help="Hyena filter's decay window.")
@click.option("--mode", default=None, help="infer, fwd, bwd or fwd_bwd [default: fwd].")
@click.option("--point", "point_id", default=None, help="Profile stored point ID (with --db).")
@click.option("--db", default="reports/hyperf.db", show_default=True, help="Store for --point.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option(
    "-o", "--output", default=None, help="Folder [default: reports/profiles/OP-LSEQ_LEN-MODE]."
)
@click.option("--wait", type=int, default=1, show_default=True, help="Steps skipped first.")
@click.option("--warmup", type=int, default=2, show_default=True, help="Steps profiled, dropped.")
@click.option("--active", type=int, default=3, show_default=True, help="Steps profiled, kept.")
@click.option("--with-stack", is_flag=True, help="Record Python stacks (slower, larger trace).")
@click.option("--tensorboard", is_flag=True, help="Print the command that opens TensorBoard.")
@clear_errors
def profile_command(
    point_id: str | None,
    db: str,
    mode: str | None,
    device: str,
    output: str | None,
    wait: int,
    warmup: int,
    active: int,
    with_stack: bool,
    tensorboard: bool,
    **params,
) -> None:
    """Profile one point: a trace for Perfetto and TensorBoard, a memory timeline, and the
    time per stage (hyperf/ops/regions.py). Give the point as in a sweep (unset options take
    a sweep point's defaults) or as a stored --point."""
    from hyperf.device import resolve_device
    from hyperf.profile import ProfileOptions, profile_workload
    from hyperf.workload import MODES

    given = {
        name: value
        for name, value in {**params, "n_heads": params.pop("heads")}.items()
        if value is not None
    }
    if point_id is not None:
        if given:
            options = ", ".join(POINT_OPTIONS[name] for name in given)
            fail(f"--point {point_id} takes its parameters from {db}; drop {options}")
        workload, stored_mode = stored_point(point_id, db)
        point_from_options(workload.as_dict())  # still valid under today's rules
        mode = mode or stored_mode
    else:
        if "op" not in given:
            fail("give --op (see `hyperf list`) or --point ID")
        workload = point_from_options(given)
    mode = mode or "fwd"
    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}; got {mode!r}")
    name = f"{workload.op.replace(':', '-')}-L{workload.seq_len}-{mode}"
    out_dir = Path(output if output is not None else f"reports/profiles/{name}")
    options = ProfileOptions(wait=wait, warmup=warmup, active=active, with_stack=with_stack)
    target = resolve_device(device)
    profile = profile_workload(workload, mode, target, out_dir, options)
    on_device = profile.breakdown["device_ms"].notna().any()
    console = Console(width=max(Console().width, 100))
    console.print(
        f"{workload.op}, L={workload.seq_len}, D={workload.d_model}, B={workload.batch}, "
        f"{workload.dtype}, {mode} on {target}: {profile.step_ms:.3f} ms per profiled step "
        f"(mean of {active}; the profiler's overhead included)"
    )
    table = Table()
    table.add_column("category")
    table.add_column("CPU ms", justify="right")
    if on_device:
        table.add_column("device ms", justify="right")
    table.add_column("share", justify="right")
    for row in profile.breakdown.itertuples():
        device_cell = [f"{row.device_ms:.3f}"] if on_device else []
        table.add_row(row.category, f"{row.cpu_ms:.3f}", *device_cell, f"{row.share:.1%}")
    console.print(table)
    for note in profile.notes:
        console.print(f"note: {escape(note)}")
    for key, path in profile.files.items():
        click.echo(f"{key:>16}: {path}")
    if tensorboard:
        click.echo(f"open in TensorBoard: tensorboard --logdir {profile.files['tb']}")


if __name__ == "__main__":
    main()
