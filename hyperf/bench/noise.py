"""History as the regression gate's noise model: each benchmark's earlier runs on the same
machine, read from the store (``hyperf bench import``), reduced to their run-to-run spread.
The maths and its assumptions are in ``hyperf.stats.comparison`` (``history_spread``); the
gate uses it when a side of a comparison holds one process.

A stored run counts for a benchmark when it ran on the same machine as the NEW file (every
speed-deciding ``machine_info`` key equal, ``hyperf.bench.files.machine_differences``) and is
not the NEW run itself (already imported, it would be counted as its own noise). Runs from
other machines are left out and the report says how many.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hyperf.bench.files import PROCESS_ROUNDS, BenchInputError, dict_or_empty, machine_differences
from hyperf.stats.bootstrap import centre
from hyperf.stats.comparison import MIN_HISTORY_RUNS, history_spread
from hyperf.stats.steps import detect_steps
from hyperf.store import Store


@dataclass(frozen=True)
class RunNoise:
    """One benchmark's run-to-run spread: σ̂ (log units, ≈ relative) on ``dof`` degrees of
    freedom from ``runs`` stored runs in ``levels`` segments."""

    runs: int
    levels: int
    spread: float
    dof: int


@dataclass(frozen=True)
class History:
    db: str
    noise: dict[str, RunNoise]  # by benchmark key; only those with MIN_HISTORY_RUNS runs
    runs: int  # stored runs on this machine
    other_machine_runs: int
    other_machine_example: str | None = None  # one differing key of one such run
    short: dict[str, int] = field(default_factory=dict)  # key → runs, below MIN_HISTORY_RUNS


def load_history(db: str | Path, machine_info: dict[str, Any], new_run_key: str) -> History:
    """The run-to-run noise of every benchmark stored in ``db`` on ``machine_info``'s machine,
    leaving out the run ``new_run_key`` (``commit|datetime``, as ``bench import`` keys it)."""
    path = Path(db)
    if not path.is_file():
        raise BenchInputError(
            f"{db}: no such store; import earlier runs with `hyperf bench import FILE.json "
            f"--db {db}` (at least {MIN_HISTORY_RUNS} runs of a benchmark on this machine)"
        )
    with Store(path) as store:
        rows = store.benchmark_history()
    if rows.empty:
        return History(str(db), {}, 0, 0)
    machines = {result: json.loads(text or "{}") for result, text in _runs(rows)}
    other = {r: machine_differences(m, machine_info) for r, m in machines.items()}
    other = {r: lines for r, lines in other.items() if lines}
    keep = ~rows["result_id"].isin(list(other)) & (rows["run_key"] != new_run_key)
    noise, short = {}, {}
    for key, runs in rows[keep].groupby("fullname", sort=False):
        times = [_run_time(row) for row in runs.itertuples()]
        if len(times) < MIN_HISTORY_RUNS:
            short[key] = len(times)
            continue
        fit = detect_steps(times)
        spans = [(s.start, s.end) for s in fit.segments]
        spread, dof = history_spread(np.log(times), spans)
        noise[key] = RunNoise(len(times), len(spans), spread, dof)
    example = next(iter(other.values()))[0] if other else None
    return History(
        str(db),
        noise,
        runs=len(machines) - len(other),
        other_machine_runs=len(other),
        other_machine_example=example,
        short=short,
    )


def _runs(rows) -> list[tuple[int, str]]:
    first = rows.drop_duplicates("result_id")
    return list(zip(first["result_id"], first["machine_json"], strict=True))


def _run_time(row: Any) -> float:
    """A stored run's time (s): the centre of its processes (``hyperf bench merge`` keeps
    their boundaries), its median without raw samples."""
    data = json.loads(row.data_json) if isinstance(row.data_json, str) else None
    if not data:
        return float(row.median_s)
    extra = dict_or_empty(json.loads(row.extra_info_json or "null"))
    rounds = extra.get(PROCESS_ROUNDS) or [len(data)]
    if sum(rounds) != len(data):
        return float(row.median_s)
    parts = np.split(np.asarray(data, dtype=float), np.cumsum(rounds)[:-1])
    value = centre(parts)
    return value if math.isfinite(value) and value > 0 else float(row.median_s)
