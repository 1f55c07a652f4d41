"""The ``hyperf`` command line."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hyperf import __version__, registry
from hyperf.errors import clear_errors, fail
from hyperf.params import DTYPE_NAMES

# Commands load torch, pandas and seaborn only when they run: `hyperf --help` and the store
# commands stay fast. Groups defined in their own module load when named.
# (Their short help is repeated here so that `hyperf --help` need not import them.)
LAZY_GROUPS = {
    "bench": (
        "hyperf.bench.cli:bench",
        "pytest-benchmark results: the regression gate, and their history across commits.",
    ),
}


def _show_error(error: click.ClickException, file=None) -> None:
    """Click's own refusals (a bad choice, a missing argument, an unknown command) in the form
    every other bad input takes: ``error: …`` first, then the usage and where help is."""
    click.echo(f"error: {error.format_message()}", file=file, err=file is None)
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        click.echo(
            f"{ctx.get_usage()}\n(see `{ctx.command_path} --help`)", file=file, err=file is None
        )


class HyperfGroup(click.Group):
    """The top-level group: click's usage errors print as ``error: …`` (exit 2, as before);
    the groups of ``LAZY_GROUPS`` are imported only when named (click's lazy-group pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_GROUPS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_GROUPS:
            module, _, attribute = LAZY_GROUPS[name][0].partition(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, with the lazy groups' short help taken from ``LAZY_GROUPS``
        rather than from importing them."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in LAZY_GROUPS:
                rows.append(
                    (name, click.utils.make_default_short_help(LAZY_GROUPS[name][1], limit))
                )
                continue
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


@click.group(
    cls=HyperfGroup,
    epilog="Run `hyperf COMMAND --help` for a command's options and an example; README.md "
    "has every command with its outputs.",
)
@click.version_option(__version__, prog_name="hyperf")
def main() -> None:
    """hyperf: where does Hyena beat attention, by how much, at what memory cost?

    A first session, on any machine (CPU is fine):

    \b
      hyperf list                                  # operators, and which run here
      hyperf calibrate --if-missing                # this device's ceilings, once
      hyperf sweep sweeps/quick.yaml --dry-run     # the plan and its predicted time
      hyperf sweep sweeps/quick.yaml               # measure into reports/hyperf.db
      hyperf report -o reports/quick.html          # HTML report, .md and CSVs beside it

    Bad input ends a command with `error: …` and exit status 2.
    """


@main.command("list", short_help="Every operator, whether it can run here, and why not.")
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
    Console(width=max(Console().width, 120)).print(table)


@main.command("env", short_help="The environment that decides a measurement.")
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


@main.command("calibrate", short_help="Measure this device's matmul rate and copy bandwidth.")
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


@main.command("sweep", short_help="Measure every point of a sweep spec into the store.")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option(
    "--db",
    default="reports/hyperf.db",
    show_default=True,
    help="SQLite store (created if missing).",
)
@click.option(
    "--device",
    default=None,
    help="auto, cpu, cuda or cuda:N [default: the spec's `device:`].",
)
@click.option(
    "--resume",
    "resume",
    metavar="[RUN]",
    default=None,
    is_flag=False,
    flag_value="latest",
    help="Continue run RUN (or, with no value, the latest run of this spec on this device).",
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
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the whole plan with predicted times, memory and wall time; run nothing.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: one worker process at a time on this machine; ray: each point a Ray task "
    "(needs the ray extra).",
)
@click.option(
    "--ray-address",
    metavar="HOST:PORT",
    default=None,
    help="With --executor ray: the cluster to join (HOST:6379, or auto) [default: start a "
    "Ray instance on this machine for the sweep].",
)
@click.option(
    "--quiet", is_flag=True, help="Log lines instead of a progress bar, and no headline table."
)
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
    """Run the sweep described by SPEC (a YAML file, see sweeps/) and store every point in
    --db, one SQLite transaction per finished repeat; then print the headline table. An
    interrupted sweep (Ctrl-C, SIGTERM, a crash) continues with --resume. With --profile or
    --profile-filter, a store NAME.db gets the traces in NAME-profiles/run-N/ beside it.

    \b
    Examples:
      hyperf sweep sweeps/quick.yaml --dry-run
      hyperf sweep sweeps/quick.yaml --db reports/hyperf.db
      hyperf sweep sweeps/quick.yaml --resume
      hyperf sweep sweeps/gpu_smoke.yaml --device cuda --profile-filter 'seq_len=4096'
      hyperf sweep sweeps/quick.yaml --executor ray --ray-address auto
    """
    from hyperf.sweep.driver import SweepInterrupted, run_sweep
    from hyperf.sweep.plan import point_filter
    from hyperf.sweep.spec import load_spec

    if retry_failed and resume is None:
        fail("--retry-failed measures a resumed run's timeout/crashed points again; add --resume")
    if resume is not None and resume != "latest" and not resume.isdigit():
        fail(f"--resume takes a run id (see `hyperf runs --db {db}`) or no value; got {resume!r}")
    if ray_address is not None and executor != "ray":
        fail("--ray-address goes with --executor ray")
    if profile_filter is not None:
        point_filter(profile_filter)  # a bad filter is refused before anything runs
    if executor == "ray" and not dry_run:
        try:
            import ray  # noqa: F401
        except ImportError:
            fail("--executor ray needs ray: pip install -e '.[ray]' (on every node)")
    registry.names()  # a broken HYPERF_PLUGINS module is reported as such, not as a spec error
    spec, text = load_spec(spec_path)
    if dry_run:
        from hyperf.device import resolve_device
        from hyperf.sweep.driver import stored_points
        from hyperf.sweep.dryrun import print_plan

        profile = profile_filter if profile_filter is not None else ("" if profile_all else None)
        target = str(resolve_device(device or spec.device))
        again = True if resume == "latest" else resume
        run_id, stored, note = stored_points(db, spec, text, target, again)
        if note:
            click.echo(f"note: {note}")
        elif run_id is not None:
            click.echo(f"resuming run {run_id}: its stored points are not measured again")
        print_plan(spec, device, db=db, profile=profile, stored=stored)
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
    except ConnectionError as error:
        if executor != "ray":
            raise
        fail(
            f"--executor ray: {error}. Is the cluster up (`ray status`)? If its token "
            "authentication is on, set RAY_AUTH_MODE=token here too"
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
    click.echo(
        f"results in {db} (hyperf runs --db {db}; hyperf export {summary.run_id} --db {db}; "
        f"hyperf report {summary.run_id} --db {db})"
    )
    if not quiet:
        from hyperf.report.html import build

        report = build(db, [summary.run_id])
        print_headline(report.headline_table, [], report.warnings)


DB_HELP = "SQLite store written by `hyperf sweep` (opened read-only)."


@main.command("runs", short_help="List the runs in a store.")
@click.option("--db", default="reports/hyperf.db", show_default=True, help=DB_HELP)
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
    Console(width=max(Console().width, 120)).print(table)


def _cell(value) -> str:
    """A table cell: counts as integers (SQLite's SUM comes back as a float), none as '—'."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@main.command("export", short_help="One run's points as CSV, Parquet or JSON.")
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--db", default="reports/hyperf.db", show_default=True, help=DB_HELP)
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


@main.command("report", short_help="A self-contained HTML report of some or all runs.")
@click.argument("run_ids", metavar="[RUN]...", type=int, nargs=-1)
@click.option("--db", default="reports/hyperf.db", show_default=True, help=DB_HELP)
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

    console = Console(width=max(Console().width, 140))
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    cells = headline_cells(table)
    if not cells.empty:
        rich_table = Table(title="Headline (measured; 95 % intervals)")
        for column in cells.columns:
            rich_table.add_column(column)
        for row in cells.itertuples(index=False):
            rich_table.add_row(*(escape(str(v)) for v in row))
        console.print(rich_table)
    for line in lines:
        console.print(f"• {escape(line)}")


DEFAULT_PREDICT_OPS = (
    "hyena:fft",
    "hyena:blocked",
    "hyena:triton",
    "attention:flash_attn",
    "attention:sdpa-math",
)


def _lengths(text: str) -> list[int]:
    try:
        lengths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) < 1:
        raise click.BadParameter(
            f"{text!r}: give positive integers separated by commas, e.g. 1024,2048,4096",
            param_hint="--seq-len",
        )
    return lengths


def _deprecated_device(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        click.echo("warning: `predict --device` is deprecated; use --gpu", err=True)
        ctx.meta["predict_gpu"] = value


@main.command("predict", short_help="PREDICTED GPU times from a fitted model (no GPU needed).")
@click.option(
    "--gpu",
    "gpus",
    multiple=True,
    help="A GPU from the device table: A100-40GB, A100-80GB, H100-SXM, H100-PCIe, H200, L40S "
    "(repeatable) [default: A100-80GB].",
)
@click.option(
    "--device",
    default=None,
    hidden=True,
    expose_value=False,
    callback=_deprecated_device,
    help="Deprecated spelling of --gpu.",
)
@click.option(
    "--op",
    "ops",
    multiple=True,
    help=f"Operator to predict (repeatable; default {', '.join(DEFAULT_PREDICT_OPS)}).",
)
@click.option(
    "--batch", default=1, show_default=True, type=click.IntRange(min=1), help="Batch size B."
)
@click.option(
    "--d-model", default=768, show_default=True, type=click.IntRange(min=1), help="Model width D."
)
@click.option(
    "--heads",
    default=None,
    type=click.IntRange(min=1),
    help="Attention heads; must divide D [default: D/64].",
)
@click.option(
    "--seq-len",
    "seq_lens",
    default="1024,2048,4096,8192,16384,32768,65536",
    show_default=True,
    help="Sequence lengths, comma-separated.",
)
@click.option(
    "--mode",
    type=click.Choice(["fwd", "bwd", "fwd_bwd"]),
    default="fwd_bwd",
    show_default=True,
    help="Forward, backward, or the training step (both).",
)
@click.option(
    "--causal/--no-causal", default=True, show_default=True, help="Attention mask (attention ops)."
)
@click.option(
    "--region",
    type=click.Choice(["core", "mixer"]),
    default="mixer",
    show_default=True,
    help="core: the attention core (or the Hyena core) alone, as attention benchmarks time it; "
    "mixer: with the projections.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float16", "bfloat16", "float32", "float64"]),
    default="float16",
    show_default=True,
    help="Input dtype.",
)
@click.option(
    "--depth",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="0: the bare mixer; k: k pre-norm blocks.",
)
@click.option(
    "--order", default=2, show_default=True, type=click.IntRange(min=2), help="Hyena order N."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@click.option(
    "--spec",
    "spec_path",
    metavar="SPEC",
    default=None,
    help="Instead of the options above: predict every point a sweep spec plans (on CUDA).",
)
@click.option(
    "-o",
    "--output",
    metavar="DIR",
    default=None,
    help="With --spec: a folder for predictions.csv, fig4_3.csv, validation.csv, "
    "predicted.png and README.md.",
)
@click.option(
    "--validate/--no-validate",
    default=False,
    show_default=True,
    help="Instead: the model against every published point (median, p90, worst per source) "
    "and the paper's Figure 4.3 under each reading.",
)
@click.pass_context
@clear_errors
def predict_command(
    ctx: click.Context,
    gpus: tuple[str, ...],
    ops: tuple[str, ...],
    batch: int,
    d_model: int,
    heads: int | None,
    seq_lens: str,
    mode: str,
    causal: bool,
    region: str,
    dtype: str,
    depth: int,
    order: int,
    as_json: bool,
    spec_path: str | None,
    output: str | None,
    validate: bool,
) -> None:
    """PREDICTED GPU times: a model fitted on published GPU timings, labelled as a
    prediction everywhere, never a measurement. Prints each operator's total and its terms
    (GEMM, attention core, FFT, elementwise, launch) per L, then the predicted crossovers.
    Needs no GPU. Three uses: one configuration (the options), a whole sweep spec (--spec,
    with -o for a folder of CSVs, a figure and a README), or the model's errors against
    every published point (--validate).

    \b
    Examples:
      hyperf predict --gpu H100-SXM --op hyena:fft --op attention:flash_attn
      hyperf predict --gpu A100-80GB --batch 8 --seq-len 2048,8192 --mode fwd --json
      hyperf predict --spec sweeps/paper_fig4_3.yaml --gpu H100-SXM -o reports/gpu-predicted
      hyperf predict --validate
    """
    from hyperf.analysis.predict import (
        PredictError,
        compare_flashfftconv,
        gpu_name,
        predicted_crossover,
        prediction_row,
    )
    from hyperf.workload import Workload

    gpus = tuple(gpu_name(g) for g in gpus or (ctx.meta.get("predict_gpu", "A100-80GB"),))
    if validate:
        _print_validation(as_json)
        return
    if spec_path is not None:
        _predict_spec(spec_path, list(gpus), output, as_json)
        return
    if output is not None:
        raise click.BadParameter("-o goes with --spec", param_hint="-o")
    lengths = _lengths(seq_lens)
    ops = ops or DEFAULT_PREDICT_OPS
    for op in ops:
        registry.get(op)  # unknown op: a clear error naming the known ones
    heads = heads or max(1, d_model // 64)
    if d_model % heads:
        raise click.BadParameter(f"{heads} must divide --d-model {d_model}", param_hint="--heads")
    rows = []
    for gpu, op in ((g, o) for g in gpus for o in ops):
        family = registry.get(op).family
        for seq_len in lengths:
            w = Workload(
                op,
                batch,
                seq_len,
                d_model,
                dtype,
                depth=depth if family != "longconv" else 0,
                order=order,
                n_heads=heads if family == "attention" else None,
                causal=causal if family == "attention" else True,
            )
            try:
                rows.append(prediction_row(w, mode, gpu, region))
            except PredictError:  # the request itself is wrong: exit 2
                raise
            except ValueError as error:  # a length this backend does not handle
                rows.append({"op": op, "gpu": gpu, "seq_len": seq_len, "error": str(error)})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    console = Console(width=max(Console().width, 120))
    table = Table(
        title=f"PREDICTED ms on {', '.join(gpus)}: {mode}, region {region}, B={batch}, "
        f"D={d_model}, {heads} heads, {dtype}, {'causal' if causal else 'non-causal'} attention"
        " — a model, not a measurement"
    )
    columns = ("gpu", "op", "L", "total", "GEMM", "attn core", "FFT", "elementwise", "launch")
    for column in columns:
        table.add_column(column, justify="left" if column in ("gpu", "op") else "right")
    for row in rows:
        if "error" in row:
            table.add_row(row["gpu"], row["op"], str(row["seq_len"]), "—", *[""] * 5)
            continue
        terms = [row[f"{t}_ms"] for t in ("gemm", "attention_core", "fft", "elementwise")]
        table.add_row(
            row["gpu"],
            row["op"],
            str(row["seq_len"]),
            f"{row['predicted_ms']:.3g}",
            *[f"{v:.3g}" if v else "" for v in terms],
            f"{row['launch_ms']:.3g}" if row["launch_ms"] else "",
        )
    console.print(table)
    notes = sorted({row["notes"] for row in rows if row.get("notes")})
    notes += sorted({f"{row['op']}: {row['error']}" for row in rows if "error" in row})
    for note in notes:
        console.print(f"note: {escape(note)}")
    hyenas = [op for op in ops if op.startswith("hyena:")]
    attentions = [op for op in ops if op.startswith("attention:")]
    pairs = [(g, h, a) for g in gpus for h in hyenas[:1] for a in attentions]
    for gpu, hyena, attention in pairs:
        try:
            crossing = predicted_crossover(hyena, attention, gpu, mode, batch, d_model, dtype)
        except ValueError:
            continue
        where = f"L ≈ {crossing:,.0f}" if crossing else "no crossing for L in 256…1M"
        console.print(f"predicted crossover on {gpu}, {hyena} vs {attention}: {where}")
    if "H100-SXM" in gpus and any(op.startswith(("hyena:", "longconv:")) for op in ops):
        console.print(
            "\nLong convolution alone, forward, B=64, H=768, fp16: PREDICTED H100-SXM ms vs "
            "FlashFFTConv's published H100-SXM ms"
        )
        console.print(escape(compare_flashfftconv().round(3).to_string(index=False)))


def _predict_spec(spec_path: str, gpus: list[str], output: str | None, as_json: bool) -> None:
    """Every point a spec plans, on each GPU; with ``output``, the predicted-report folder."""
    from hyperf.analysis.predict import predict_plan
    from hyperf.report.predicted import write_predicted
    from hyperf.sweep.plan import build_plan
    from hyperf.sweep.spec import load_spec

    spec, _ = load_spec(spec_path)
    predictions = predict_plan(build_plan(spec, "cuda"), gpus)
    if output is not None:
        paths = write_predicted(spec.name, predictions, output)
        click.echo(f"PREDICTED (not measured): {len(predictions)} rows; wrote")
        for path in paths:
            click.echo(f"  {path}")
        return
    if as_json:
        click.echo(predictions.to_json(orient="records", indent=1))
        return
    shown = predictions[["gpu", "op", "mode", "batch", "seq_len", "predicted_ms", "not_predicted"]]
    console = Console(width=max(Console().width, 140))
    console.print(f"PREDICTED ms for {spec_path} (a model, not a measurement):")
    console.print(escape(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}")))


def _print_validation(as_json: bool) -> None:
    from hyperf.analysis.predict import validate_fig4_3
    from hyperf.analysis.validation import validation, validation_summary

    table = validation()
    if as_json:
        click.echo(table.to_json(orient="records", indent=1))
        return
    console = Console(width=max(Console().width, 160))
    console.print(
        "Model vs published GPU timings (|error| %, predicted vs published). 'part, held out': "
        "a fitted part on points it was not fitted on; 'whole model': hyperf predict on points "
        "no part saw; 'in-sample': the plumbing, not accuracy."
    )
    summary_table = Table(show_lines=False)
    summary = validation_summary(table)
    for column in (
        "source",
        "kind",
        "reading",
        "gpu",
        "n",
        "median %",
        "p90 %",
        "worst %",
        "worst",
    ):
        summary_table.add_column(column, justify="right" if column[0] in "nmpw" else "left")
    for r in summary.itertuples(index=False):
        summary_table.add_row(
            r.source,
            r.kind,
            r.reading,
            r.gpu,
            str(r.n),
            f"{r.median_abs_error_pct:.1f}",
            f"{r.p90_abs_error_pct:.1f}",
            f"{r.worst_abs_error_pct:.1f}",
            escape(r.worst_point),
        )
    console.print(summary_table)
    points, summary = validate_fig4_3()
    best = summary.iloc[0]
    console.print(
        f"\nHyena paper Figure 4.3 on A100-80GB, best reading: batch {best['batch']}, "
        f"{best['mode']} — error per point (%):"
    )
    chosen = points[(points["batch"] == best["batch"]) & (points["mode"] == best["mode"])]
    pivot = chosen.pivot_table(index="seq_len", columns="series", values="error_pct").round(0)
    console.print(escape(pivot.to_string()))
    for batch in (1, 64):
        row = summary[summary["batch"] == batch].iloc[0]
        console.print(
            f"batch {batch} (best mode {row['mode']}): median |error| "
            f"{row['median_abs_error_pct']:.0f} %, worst {row['worst_abs_error_pct']:.0f} %, "
            f"{row['within_35_pct']} of {row['points']} points within ±35 %"
        )
    console.print(f"\nEvery point: hyperf predict --validate --json ({len(table)} rows)")


@main.command("kernels", short_help="Compile the Triton kernel ahead of time; its static facts.")
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
    archs = tuple(int(t.removeprefix("sm_")) for t in targets) or triton_aot.TARGETS
    import torch

    chosen = tuple(getattr(torch, d) for d in dtypes) or (
        torch.float32,
        torch.float16,
        torch.bfloat16,
    )
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
    "causal": "--causal",
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


# profile's point options: None means "a sweep point's default" (PointParams), shown in the
# help text; tests/test_cli_help.py checks these against PointParams.
@main.command("profile", short_help="Profile one point: trace, memory timeline, time per stage.")
@click.option("--op", default=None, help="Operator (see `hyperf list`); required unless --point.")
@click.option("--seq-len", type=int, default=None, help="Sequence length L [default: 1024].")
@click.option("--d-model", type=int, default=None, help="Model width D [default: 768].")
@click.option("--batch", type=int, default=None, help="Batch size B [default: 1].")
@click.option(
    "--dtype", default=None, help="float32, float16, bfloat16 or float64 [default: float32]."
)
@click.option("--order", type=int, default=None, help="Hyena order N [default: 2].")
@click.option(
    "--depth", type=int, default=None, help="0: the bare mixer; k: k blocks [default: 0]."
)
@click.option(
    "--heads", type=int, default=None, help="Attention heads; must divide D [default: D/64]."
)
@click.option("--variant", default=None, help="Hyena variant: safari or paper [default: safari].")
@click.option(
    "--emb-dim", type=int, default=None, help="Hyena filter's positional features [default: 3]."
)
@click.option(
    "--filter-order", type=int, default=None, help="Width of the filter MLP [default: 64]."
)
@click.option(
    "--modulate/--no-modulate",
    default=None,
    help="Hyena filter's decay window [default: modulate].",
)
@click.option(
    "--causal/--no-causal", default=None, help="Attention mask (attention ops) [default: causal]."
)
@click.option(
    "--mode",
    default=None,
    help="infer, fwd, bwd or fwd_bwd [default: fwd, or the stored point's with --point].",
)
@click.option(
    "--point",
    "point_id",
    metavar="ID",
    default=None,
    help="Profile the stored point ID (its point_id in `hyperf export`) from --db.",
)
@click.option("--db", default="reports/hyperf.db", show_default=True, help="Store for --point.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "-o",
    "--output",
    metavar="DIR",
    default=None,
    help="Folder [default: reports/profiles/OP-LSEQ_LEN-MODE].",
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
    """Profile one point under torch.profiler: a trace for Perfetto and TensorBoard, a memory
    timeline, and the time per stage (hyperf/ops/regions.py). Give the point as in a sweep
    (unset options take a sweep point's defaults, shown below) or as a stored --point.
    Writes trace.json.gz, tb/, breakdown.csv, ops.csv, memory.png and memory.csv into the
    output folder.

    \b
    Examples:
      hyperf profile --op hyena:fft --seq-len 16384 --d-model 768 --mode fwd --tensorboard
      hyperf profile --point POINT_ID --db reports/hyperf.db
    """
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
