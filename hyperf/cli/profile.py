"""``hyperf profile``: one point under torch.profiler, given as options or as a stored point."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from hyperf.cli.common import wide_console
from hyperf.errors import clear_errors, fail
from hyperf.params import MODES, point_params

MAX_STEPS = 1000  # profiled steps: a trace of more is too large to open anyway
STEPS = click.IntRange(0, MAX_STEPS)

# The point parameters' options (``hyperf.params``): field name → option, for messages.
POINT_OPTIONS = {name: facts.option_name(name) for name, (_, _, facts) in point_params().items()}


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

    # TODO(r22-layers): a store reader (hyperf/store.py) should return the stored point's
    # parameters and mode; the CLI should not select rows and parse params_json itself.
    with Store(db) as store:
        points = store.points()
    rows = points[points["point_id"] == point_id].sort_values("run_id")
    if rows.empty:
        raise ValueError(f"no point {point_id} in {db} (see `hyperf export RUN --db {db}`)")
    stored = json.loads(rows["params_json"].iloc[-1])
    return Workload(**stored["workload"]), stored["mode"]


# profile's point options: None means "a sweep point's default" (PointParams), shown in the
# help text; tests/test_cli_help.py checks these against PointParams.
@click.command("profile", short_help="Profile one point: trace, memory timeline, time per stage.")
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
@click.option("--wait", type=STEPS, default=1, show_default=True, help="Steps skipped first.")
@click.option("--warmup", type=STEPS, default=2, show_default=True, help="Steps profiled, dropped.")
@click.option(
    "--active",
    type=click.IntRange(1, MAX_STEPS),
    default=3,
    show_default=True,
    help="Steps profiled, kept.",
)
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
    from hyperf.files import check_outputs
    from hyperf.profile import FILES, ProfileOptions, profile_workload

    params["n_heads"] = params.pop("heads")  # the option's name for PointParams' field
    given = {name: value for name, value in params.items() if value is not None}
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
    if str(out_dir).strip() not in ("", "."):  # (profile_workload names an empty folder)
        check_outputs([out_dir / file for file in FILES], db if point_id is not None else None)
    options = ProfileOptions(wait=wait, warmup=warmup, active=active, with_stack=with_stack)
    target = resolve_device(device)
    profile = profile_workload(workload, mode, target, out_dir, options)
    on_device = profile.breakdown["device_ms"].notna().any()
    console = wide_console(100)
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
