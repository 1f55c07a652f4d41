"""What one measurement stores: the point row and the per-process repeat row, defined once.

The store's columns come from these dataclasses (``columns``), the worker fills ``Repeat``,
and ``combine`` folds a point's repeats into its ``PointRow``: adding a statistic is one field
here and one assignment where it is computed.

A point is measured in R worker processes ("repeats", ``budget.repeats``). Repeat 0 also runs
the correctness check, the FLOP counts and the memory measurements (they do not vary between
processes); every repeat times the point and probes for contention.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields, make_dataclass

from hyperf.format import achieved_tflops
from hyperf.params import point_params
from hyperf.stats.bootstrap import summarize_point
from hyperf.stats.sample import summarize

# ok: correct against an independent oracle; wrong: timed but over tolerance; unchecked:
# timed, but no independent oracle could check it; the rest were not timed.
STATUSES = ("ok", "wrong", "unchecked", "oom", "timeout", "crashed", "skipped")
MEASURED = ("ok", "wrong", "unchecked")  # statuses that carry times


def _column_type(hint) -> type:
    """A parameter's type as a column's: flags are 0/1, a choice of strings is a string."""
    if hint is bool:
        return int
    if typing.get_origin(hint) is typing.Literal:
        return str
    return hint


# The parameters of a point, as columns (one row per run and point): the point model's
# (``hyperf.params``, under their column names) and where and how it was measured. A
# ``Params`` built by the worker is plain data; ``columns(Params)`` declares them.
Params = make_dataclass(
    "Params",
    [
        ("op", str),
        ("family", str),
        ("mode", str),
        ("device", str),
        *(
            (
                facts.column_name(name),
                _column_type(hint),
                field(default=int(default) if isinstance(default, bool) else default),
            )
            for name, (hint, default, facts) in point_params().items()
            if name != "op"
        ),
        ("timed_region", str, field(default="filter generation in")),
    ],
)


@dataclass
class Repeat:
    """One worker process's measurement of a point."""

    status: str
    error: str | None = None
    n: int | None = None
    median_ms: float | None = None
    ci_low_ms: float | None = None  # the process's own order-statistic CI of its median
    ci_high_ms: float | None = None
    first_call_ms: float | None = None
    warmup_calls: int | None = None
    threads: int | None = None
    cpu_share: float | None = None  # process CPU time / (threads × wall) while sampling
    wait_share: float | None = None  # time threads waited for a CPU / (threads × wall)
    contended: int | None = None  # still contended after the retries
    attempts: int | None = None  # 1 + retries used
    interpreted: int | None = None
    wall_s: float | None = None
    device_ms: float | None = None  # one step's device (CUDA) or operator (CPU) time
    device_events: float | None = None  # its kernels (CUDA) or operator calls (CPU)
    recompiled: int | None = None  # torch.compile graphs built while sampling
    detail_json: str | None = None  # repeat 0: check, FLOPs, memory; every repeat: probes


@dataclass
class PointRow:
    """A point's result over all its repeats — what analysis and reports read."""

    status: str
    error: str | None = None
    processes: int | None = None  # repeats that measured it
    n: int | None = None  # samples over all processes
    median_ms: float | None = None  # centre: geometric mean of the process medians
    ci_low_ms: float | None = None  # 95 % CI from the two-level bootstrap (stats.py)
    ci_high_ms: float | None = None
    rel_ci_halfwidth: float | None = None
    between_cv: float | None = None  # spread of process medians (std / mean)
    mean_ms: float | None = None  # the rest: over all samples pooled
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    p10_ms: float | None = None
    p25_ms: float | None = None
    p75_ms: float | None = None
    p90_ms: float | None = None
    iqr_ms: float | None = None
    noisy: int | None = None
    contended: int | None = None
    first_call_ms: float | None = None
    interpreted: int | None = None
    threads: int | None = None
    flops: float | None = None  # None: no FLOP model for this operator
    flops_counted: float | None = None
    bytes: float | None = None
    tflops: float | None = None
    peak_bytes: int | None = None
    saved_bytes: int | None = None
    saved_bytes_model: int | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    oracle: str | None = None
    wall_s: float | None = None
    # One step's device (CUDA: summed kernel time) or operator (CPU: summed operator self
    # time) ms and its kernel or operator count, read by the profiler in repeat 0.
    device_ms: float | None = None
    device_events: float | None = None
    recompiled: int | None = None  # torch.compile graphs built while sampling (any repeat)
    detail_json: str | None = None
    finished_at: str | None = None


_SQL = {int: "INTEGER", float: "REAL", str: "TEXT"}


def columns(row_type: type) -> dict[str, str]:
    """SQLite column declarations for a row dataclass (``status`` is required)."""
    hints = typing.get_type_hints(row_type)
    out = {}
    for f in fields(row_type):
        hint = hints[f.name]
        if isinstance(hint, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        out[f.name] = _SQL[hint] + (" NOT NULL" if f.name == "status" else "")
    return out


def finished(repeats: list[Repeat], wanted: int) -> bool:
    """A point is done when every repeat ran, or one ended without a time (skipped, crashed,
    timeout, oom): measuring it again would not change its status."""
    return len(repeats) >= wanted or any(r.status not in MEASURED for r in repeats)


def combine(repeats: list[Repeat], samples: list[list[float]]) -> PointRow:
    """Fold a point's repeats (in repeat order) and their raw samples into its row."""
    first = repeats[0]
    failed = next((r for r in repeats if r.status not in MEASURED), None)
    if failed is not None or first.status not in MEASURED:
        failed = failed or first
        row = PointRow(status=failed.status, error=failed.error)
        row.detail_json = first.detail_json
        return row
    detail = json.loads(first.detail_json or "{}")
    point = summarize_point(samples)
    pooled = summarize([x for s in samples for x in s])
    seconds = point.centre / 1e3
    interpreted = bool(first.interpreted)
    flops = detail.get("flops")
    contended = [r for r in repeats if r.contended]
    return PointRow(
        status=first.status,
        error=first.error,
        processes=point.processes,
        n=point.n,
        median_ms=point.centre,
        ci_low_ms=point.ci_low,
        ci_high_ms=point.ci_high,
        rel_ci_halfwidth=point.rel_ci_halfwidth,
        between_cv=point.between_cv,
        mean_ms=pooled.mean,
        std_ms=pooled.std,
        min_ms=pooled.min,
        max_ms=pooled.max,
        p10_ms=pooled.p10,
        p25_ms=pooled.p25,
        p75_ms=pooled.p75,
        p90_ms=pooled.p90,
        iqr_ms=pooled.iqr,
        noisy=int(point.noisy),
        contended=int(bool(contended)),
        first_call_ms=first.first_call_ms,
        interpreted=int(interpreted),
        threads=first.threads,
        flops=flops,
        flops_counted=detail.get("flops_counted"),
        bytes=detail.get("bytes"),
        tflops=None if interpreted or flops is None else achieved_tflops(flops, seconds),
        peak_bytes=detail.get("peak_bytes"),
        saved_bytes=detail.get("saved_bytes"),
        saved_bytes_model=detail.get("saved_bytes_model"),
        max_rel_error=detail.get("max_rel_error"),
        tolerance=detail.get("tolerance"),
        oracle=detail.get("oracle"),
        wall_s=sum(r.wall_s or 0.0 for r in repeats),
        device_ms=first.device_ms,
        device_events=first.device_events,
        recompiled=max((r.recompiled or 0) for r in repeats),
        detail_json=json.dumps(
            {
                **detail,
                "repeats": [
                    {k: v for k, v in asdict(r).items() if k != "detail_json"} for r in repeats
                ],
                "contended_because": [
                    json.loads(r.detail_json or "{}").get("contended_because") for r in contended
                ],
            }
        ),
    )
