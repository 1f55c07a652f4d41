"""``hyperf crossover A B``: search where A and B swap places in L, adaptively.

Its point options are made from the point model (``hyperf.params``): one option per parameter
but the operator and the length, named, typed and documented there.
"""

from __future__ import annotations

import json
import sys
import typing

import click

from hyperf.cli.common import RUN_ID
from hyperf.errors import clear_errors, fail
from hyperf.params import point_params

SEARCHED = ("op", "seq_len")  # the search sets these itself


def _point_option(name: str, hint, default, facts) -> typing.Callable:
    """The click option of one point parameter (None when not given: the point's default)."""
    flag = facts.option_name(name)
    shown = "D/64" if name == "n_heads" else default
    doc = f"{facts.doc} [default: {shown}]"
    if hint is bool:
        negative = "--no-" + flag.removeprefix("--")
        return click.option(f"{flag}/{negative}", name, default=None, help=doc)
    choices = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Literal:
        return click.option(flag, name, type=click.Choice(choices), default=None, help=doc)
    kind = int if int in (hint, *choices) else str
    return click.option(flag, name, type=kind, default=None, help=doc)


def point_options(command: typing.Callable) -> typing.Callable:
    for name, (hint, default, facts) in reversed(point_params().items()):
        if name not in SEARCHED:
            command = _point_option(name, hint, default, facts)(command)
    return command


@click.command("crossover", short_help="Search where operator A overtakes B (adaptive in L).")
@click.argument("a", required=False)
@click.argument("b", required=False)
@point_options
@click.option("--mode", default="fwd", show_default=True, help="infer, fwd, bwd or fwd_bwd.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--tol",
    type=float,
    default=0.10,
    show_default=True,
    help="Stop when the 95 % interval's half-width is within this fraction of L*.",
)
@click.option("--lmin", type=int, default=256, show_default=True, help="Shortest L probed.")
@click.option(
    "--lmax", type=int, default=None, help="Longest L [default: the longest both can run]."
)
@click.option("--budget", type=float, default=None, help="Wall seconds for the search.")
@click.option(
    "--repeats", type=int, default=3, show_default=True, help="Processes per probe point."
)
@click.option(
    "--seconds",
    type=float,
    default=0.2,
    show_default=True,
    help="Sampling time per process and point (s).",
)
@click.option("--db", default="reports/hyperf.db", show_default=True, help="SQLite store.")
@click.option("--resume", type=RUN_ID, default=None, metavar="RUN", help="Continue search RUN.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@clear_errors
def crossover_command(
    a: str | None,
    b: str | None,
    mode: str,
    device: str,
    tol: float,
    lmin: int,
    lmax: int | None,
    budget: float | None,
    repeats: int,
    seconds: float,
    db: str,
    resume: int | None,
    as_json: bool,
    **point: object,
) -> None:
    """Find the L where operator A overtakes operator B (or B overtakes A), to a 95 %
    interval within --tol, with as few lengths as that takes: bracket it with probes at
    lmin, 4·lmin, 16·lmin, …, then place each next probe where it narrows the interval most
    (hyperf/analysis/search.py has the method). Each probe is two ordinary points, measured
    in --repeats processes, checked against their oracles; the search is stored as a run of
    kind `search` (`hyperf runs`, `export`, `report`), and a stopped one continues with
    --resume RUN.

    \b
    Examples:
      hyperf crossover hyena:fft attention:sdpa-flash --d-model 64 --depth 1
      hyperf crossover longconv:fft longconv:blocked --d-model 64 --json
      hyperf crossover --resume 7 --budget 120
    """
    from pydantic import ValidationError

    from hyperf.search import run_search, stored_search
    from hyperf.store import Store
    from hyperf.sweep.driver import SweepInterrupted
    from hyperf.sweep.spec import SearchSpec, describe_error

    given = {name: value for name, value in point.items() if value is not None}
    if resume is not None:
        with Store(db) as store:
            spec = stored_search(store, resume)
        if (a, b) != (None, None) and (a, b) != (spec.a, spec.b):
            fail(f"--resume {resume}: run {resume} searches {spec.a} vs {spec.b}, not {a} vs {b}")
        if budget is not None:
            spec = spec.model_copy(update={"budget_s": budget})
    else:
        if a is None or b is None:
            fail("give two operators, A and B (see `hyperf list`), or --resume RUN")
        try:
            spec = SearchSpec.model_validate(
                {
                    "a": a,
                    "b": b,
                    "point": given,
                    "mode": mode,
                    "device": device,
                    "tol": tol,
                    "lmin": lmin,
                    "lmax": lmax,
                    "budget_s": budget,
                    "budget": {"repeats": repeats, "seconds": seconds},
                }
            )
        except ValidationError as error:
            fail("; ".join(describe_error(e, SearchSpec) for e in error.errors()))
    try:
        result = run_search(spec, db, resume=resume, quiet=as_json)
    except SweepInterrupted as stop:
        where = f"continue it with `hyperf crossover --resume {stop.run_id} --db {db}`"
        click.echo(f"\nstopped by {stop}; every finished repeat is stored; {where}", err=True)
        sys.exit(128 + stop.signum)
    data = result.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(summary(data))


def summary(data: dict) -> str:
    """The search's answer in a sentence or two."""
    from hyperf.format import format_interval

    def length(value: float) -> str:  # a searched crossover is read to the token
        return f"{value:,.0f}"

    a, b = data["a"], data["b"]
    head = (
        f"search run {data['run_id']}, {data['a']} vs {data['b']} ({data['mode']}): "
        f"{len(data['probes'])} probes in {data['seconds']:.0f} s"
    )
    verdict = data["verdict"]
    if verdict == "resolved":
        interval = format_interval(data["ci_low"], data["ci_high"], length)
        line = (
            f"{a} and {b} cross at L ≈ {length(data['crossover_L'])} "
            f"(95 % interval {interval}, ±{data['half_width']:.1%})"
        )
    elif verdict.endswith("faster everywhere"):
        faster = a if verdict.startswith("a") else b
        line = f"{faster} is faster everywhere in [{data['lmin']:,}, {data['lmax']:,}]"
    else:
        where = (
            f"; the estimate is L ≈ {length(data['crossover_L'])}" if data["crossover_L"] else ""
        )
        width = (
            f" (95 % interval {length(data['ci_low'])}–{length(data['ci_high'])}, "
            f"±{data['half_width']:.1%})"
            if data["half_width"]
            else ""
        )
        line = f"not resolved to ±{data['tol']:.0%}{where}{width}"
    note = f"\n{data['note']}" if data["note"] else ""
    return f"{head}: {line}{note}"
