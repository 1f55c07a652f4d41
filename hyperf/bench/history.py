"""The history of pytest-benchmark results: ``hyperf bench import FILE.json…`` stores runs in
the hyperf store (``bench_results``, ``bench_entries``), ``hyperf bench history`` shows each
benchmark's time commit by commit with its 95 % CI, and marks where its time stepped
(``hyperf.analysis.steps``).

The commands join the ``bench`` group in hyperf.bench.cli. Bad input ends them as every
hyperf command ends (``hyperf.errors.clear_errors``: ``error: …``, exit 2).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import pandas as pd

from hyperf.analysis.steps import commit_series, history_steps
from hyperf.bench.files import BenchInputError, benchmark_key, short_repr
from hyperf.errors import clear_errors
from hyperf.files import check_regular, is_sqlite_file
from hyperf.format import format_interval, time_unit
from hyperf.stats.steps import MIN_CHANGE, MIN_LENGTH
from hyperf.store import Store

JSON_HINT = "give the file pytest wrote with --benchmark-json FILE (add --benchmark-save-data)"


# --- parsing -------------------------------------------------------------------------------


def parse_file(path: str | Path) -> dict[str, Any]:
    """A pytest-benchmark JSON file as ``Store.import_benchmarks`` takes it.

    Raises BenchInputError (a ValueError) naming the file, and the key where one is wrong. A
    missing ``commit_info`` is allowed: the run is stored with an unknown commit, ordered by
    its own time. Raw samples (``stats.data``) are optional here: without them a commit's
    time has no CI."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchInputError(f"{path}: no 'benchmarks' list; {JSON_HINT}")
    commit = data.get("commit_info")
    if commit is None:
        commit = {}
    elif not isinstance(commit, dict):
        raise BenchInputError(f"{path}: 'commit_info' must be an object; got {short_repr(commit)}")
    machine = data.get("machine_info")
    if machine is not None and not isinstance(machine, dict):
        raise BenchInputError(
            f"{path}: 'machine_info' must be an object; got {short_repr(machine)}"
        )
    when = _utc(path, "datetime", data.get("datetime"))
    commit_id = str(commit.get("id") or "unknown")
    run = {
        # A run is its commit and its own timestamp; a file without a timestamp is its content.
        "run_key": f"{commit_id}|{when}"
        if when
        else "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
        "commit_id": commit_id,
        "commit_time": _utc(path, "commit_info.time", commit.get("time")),
        "branch": commit.get("branch"),
        "dirty": None if commit.get("dirty") is None else int(bool(commit.get("dirty"))),
        "project": commit.get("project"),
        "machine": machine or {},
        "datetime": when,
        "version": data.get("version"),
    }
    entries = [_entry(path, index, entry) for index, entry in enumerate(data["benchmarks"])]
    return {"source": str(path), "run": run, "benchmarks": entries}


def _read_json(path: Path) -> Any:
    check_regular(path, "a pytest-benchmark JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BenchInputError(f"{path}: a directory, not a JSON file; {JSON_HINT}") from None
    except UnicodeDecodeError:
        raise BenchInputError(f"{path}: not JSON (not UTF-8 text); {JSON_HINT}") from None
    except OSError as error:
        raise BenchInputError(f"{path}: cannot read it ({error.strerror or error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BenchInputError(
            f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None


def _utc(path: Path, key: str, value: Any) -> str | None:
    """An ISO 8601 time as UTC ISO text (so that text order is time order); None if absent."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BenchInputError(
            f"{path}: {key} is not an ISO 8601 time: {short_repr(value)}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _entry(path: Path, index: int, entry: Any) -> dict[str, Any]:
    """One benchmark's row for ``bench_entries``; BenchInputError naming the key if unusable."""
    where = f"{path}: benchmarks[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BenchInputError(f"{where}: not a benchmark (an object with a 'name' string)")
    stats = entry.get("stats")
    if not isinstance(stats, dict):
        raise BenchInputError(f"{where} ({entry['name']!r}): no 'stats' object")
    median = stats.get("median")
    if not _number(median) or median <= 0:
        raise BenchInputError(
            f"{where} ({entry['name']!r}): stats.median must be a time in seconds > 0; "
            f"got {short_repr(median)}"
        )
    samples = stats.get("data")
    if samples is not None and not (
        isinstance(samples, list) and samples and all(_number(x) and x > 0 for x in samples)
    ):
        raise BenchInputError(
            f"{where} ({entry['name']!r}): stats.data must be a non-empty list of times in "
            "seconds, each finite and > 0"
        )

    def stat(name: str) -> float | None:
        value = stats.get(name)
        return float(value) if _number(value) else None

    rounds, iterations = stats.get("rounds"), stats.get("iterations")
    return {
        "fullname": benchmark_key(entry),
        "name": entry["name"],
        "group": None if entry.get("group") is None else str(entry["group"]),
        "params": entry.get("params"),
        "median_s": float(median),
        "q1_s": stat("q1"),
        "q3_s": stat("q3"),
        "mean_s": stat("mean"),
        "min_s": stat("min"),
        "max_s": stat("max"),
        "stddev_s": stat("stddev"),
        "rounds": int(rounds) if _number(rounds) else None,
        "iterations": int(iterations) if _number(iterations) else None,
        "extra_info": entry.get("extra_info"),
        "options": entry.get("options"),
        "data": samples,
    }


# --- commands ------------------------------------------------------------------------------


@click.command("import", short_help="Add pytest-benchmark JSON files to the store's history.")
@click.argument("files", metavar="FILE.json...", nargs=-1, required=True)
@click.option("--db", default="reports/hyperf.db", show_default=True, help="SQLite store.")
@clear_errors
def import_command(files: tuple[str, ...], db: str) -> None:
    """Import pytest-benchmark JSON files (--benchmark-json) into the store's benchmark
    history. A run already imported is skipped, so importing a file again adds nothing."""
    parsed = [parse_file(path) for path in files]  # every file checked before any is stored
    entries = {(p["run"]["run_key"], b["fullname"]) for p in parsed for b in p["benchmarks"]}
    stored = set()
    if is_sqlite_file(Path(db)):  # nothing new: the store is not even opened for writing
        with Store(db) as store:
            stored = store.stored_benchmarks() & entries
    if stored == entries:
        imported, skipped = 0, sum(len(p["benchmarks"]) for p in parsed)
    else:
        with Store(db, write=True) as store:
            counts = [store.import_benchmarks(p) for p in parsed]
        imported = sum(n for n, _ in counts)
        skipped = sum(n for _, n in counts)
    click.echo(
        f"imported {imported} benchmark results from {len(files)} file(s) into {db}; "
        f"skipped {skipped} already stored"
    )


@click.command("history", short_help="Each benchmark's time by commit, and where it stepped.")
@click.option("--db", default="reports/hyperf.db", show_default=True, help="SQLite store.")
@click.option("--benchmark", "name", default=None, help="Only this benchmark (name or full name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@clear_errors
def history_command(db: str, name: str | None, as_json: bool) -> None:
    """Each benchmark's time commit by commit (median, 95% CI) and the commits where it
    stepped (hyperf/stats/steps.py), from results stored by `hyperf bench import`."""
    with Store(db) as store:
        history = store.benchmark_history(name)
        if history.empty and name is not None:
            known = sorted(set(store.benchmark_history()["name"]))
            if known:
                shown = ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
                raise BenchInputError(f"{db}: no benchmark {name!r}; it holds {shown}")
    if history.empty:
        click.echo(
            f"{db} holds no benchmark history; add some with `hyperf bench import FILE.json "
            f"--db {db}`",
            err=as_json,
        )
        if as_json:
            click.echo("[]")
        return
    series = commit_series(history)
    steps = history_steps(series)
    if as_json:
        click.echo(json.dumps(history_json(series, steps), indent=1))
    else:
        print_history(series, steps)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN as None, numpy scalars as Python numbers."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


def history_json(series: pd.DataFrame, steps: pd.DataFrame) -> list[dict[str, Any]]:
    """One object per benchmark: its points (``change`` set where a step starts) and steps."""
    out = []
    for fullname, points in series.groupby("fullname", sort=True):
        found = steps[steps["fullname"] == fullname]
        change = dict(zip(found["position"], found["change"], strict=True))
        points = points.assign(change=points["position"].map(change))
        out.append(
            {
                "benchmark": fullname,
                "name": points["name"].iloc[0],
                "group": points["group"].iloc[0],
                "points": _records(points.drop(columns=["fullname", "name", "group"])),
                "steps": _records(found.drop(columns=["fullname", "name", "group"])),
            }
        )
    return out


def print_history(series: pd.DataFrame, steps: pd.DataFrame) -> None:
    """A table per benchmark: commit, date, median and 95 % CI, and ▲/▼ where it stepped."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    for fullname, points in series.groupby("fullname", sort=True):
        found = steps[steps["fullname"] == fullname].set_index("position")
        factor, unit = time_unit(float(points["median_s"].median()))
        group = points["group"].iloc[0]
        title = f"{fullname}" + (f" (group {group})" if group else "")
        table = Table(title=escape(title), title_justify="left")
        for column in ("#", "commit", "date (UTC)", f"median ({unit})", "95% CI", "runs"):
            table.add_column(column, justify="left" if column == "commit" else "right")
        table.add_column("rounds", justify="right")
        table.add_column("step")
        for row in points.itertuples():
            ci = format_interval(row.ci_low_s * factor, row.ci_high_s * factor, "{:.4g}".format)
            step = ""
            if row.position in found.index:
                change = float(found.loc[row.position, "change"])
                step = f"[red]▲ {change:+.1%}[/]" if change > 0 else f"[green]▼ {change:+.1%}[/]"
            table.add_row(
                str(row.position),
                escape(str(row.label)),
                str(row.time or "")[:16].replace("T", " "),
                f"{row.median_s * factor:.4g}",
                ci,
                str(row.runs),
                str(row.rounds),
                step,
            )
        console.print(table)
    console.print(
        f"{series['fullname'].nunique()} benchmark(s), {len(steps)} step(s). A step is a change of "
        f"level lasting at least {MIN_LENGTH} commits and at least {MIN_CHANGE:.0%} "
        "(hyperf/stats/steps.py).",
        highlight=False,
    )
