"""How long a sweep takes: the wall-time model behind ``hyperf sweep --dry-run``.

On a CPU (and for small GPU points) a sweep's wall time is not its kernels' time: it is
mostly the fixed costs of measuring each point. The model follows what the local executor
and ``runner.run_point`` do (``t`` is one step of the point in its mode, in seconds):

- once per sweep: the driver's own start (``driver_start_s``: Python, torch, the plan, the
  store);
- once per pass (the driver measures repeat r of every point in pass r, each pass in a
  fresh worker process): ``worker_start_s`` (importing torch, loading the registry,
  warming up autograd);
- once per repeat: ``repeat_overhead_s``, what ``stage_s`` does not see (the request and
  reply, the memory and availability checks, claiming and storing the repeat);
- repeat 0 only: the ``check`` stage (the correctness oracle), ``flops`` (FLOP counting, if
  ``count_flops``) and ``memory`` (if ``measure_memory``), each ``fixed + multiplier × t``
  (``STAGE_MULTIPLIERS``: about how many steps the stage runs; the oracle checks a capped
  length, so its multiplier is small);
- under ``exec: compile``: ``compile_s`` per repeat (each repeat is a fresh process: dynamo
  traces again; inductor's on-disk cache spares most of the code generation), and once more
  in repeat 0, whose check against eager compiles a second module;
- repeat 0 reads the step's device time after sampling: ``device_fixed_s`` (the profiler's
  start) plus ``device_steps + 1`` steps;
- every repeat: the ``timing`` stage, ``timing_fixed_s`` (building the module and inputs)
  plus ``(1 + warmup_calls) × t`` (first call and warm-up) plus the sampling loop, which
  takes at least ``min_samples`` steps and otherwise runs until its budget
  (``budget.seconds``) is spent, at most ``max_samples`` steps:
  ``min(max_samples × t, max(min_samples × t, budget_s))``. (It may stop earlier once the
  confidence interval is tight; the model ignores that and so errs long for tiny points.)
  A repeat the contention probe flags is re-timed (``budget.retries``) after a pause: on a
  shared machine that happens often enough to count, as ``retry_s`` per repeat on average.

``t`` itself is the roofline bound divided by ``efficiency`` (the fraction of the roofline
the backends reach on such a device; small points on a CPU are far from it) — or, when a
stored run measured the same point on this machine, that measurement.

``fit_costs`` calibrates the constants from stored repeats (their ``stage_s``, step medians
and the runs' durations): for each stage the median of ``stage_s − multiplier × t``, so a
repeat slowed by contention does not move it; ``efficiency`` is the median of roofline ÷
measured step time, per (op, mode) and over all points.
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from hyperf.store import Store, StoreError

# "profile": torch.profiler's wait + warmup + active steps (hyperf.profile.ProfileOptions).
STAGE_MULTIPLIERS = {"check": 0.3, "flops": 1.0, "memory": 1.2, "profile": 6.0}
MEASURED_STAGES = ("check", "flops", "memory", "profile")


@dataclass(frozen=True)
class Costs:
    """The model's constants, in seconds (``efficiency``: a ratio). The CPU defaults were
    measured on a 2-core CPU machine (sweeps/quick.yaml, torch 2.x: the driver ~5 s to start
    and plan, each worker ~3 s to import torch, the oracle and the memory measurement
    ~0.04 s plus a fraction of a step, ~0.01 s outside the stages per repeat); the FLOP
    counter's 0.3 s and the CUDA efficiency are rough guesses, measured on no GPU. Re-timed
    contended repeats cost 0.03 s per repeat on a quiet machine (the main job's run in
    reports/cpu-quick/) and 0.4 s on a shared one (other test suites running): a busy
    machine's sweep takes longer than this predicts. Profiling a point (``--profile``) costs
    about 0.8 s plus its six profiler steps."""

    driver_start_s: float = 5.0
    worker_start_s: float = 3.0
    repeat_overhead_s: float = 0.01
    stage_fixed_s: dict[str, float] = field(
        default_factory=lambda: {"check": 0.04, "flops": 0.3, "memory": 0.04, "profile": 0.8}
    )
    timing_fixed_s: float = 0.01
    # torch.compile of one hyperf module at D=64 on a 2-core CPU: 1–5 s (hyena:fft 3.4 s,
    # attention 0.4–1 s; torch 2.13, measured here); the profiler's start: ~0.2 s.
    compile_s: float = 3.0
    device_fixed_s: float = 0.2
    retry_s: float = 0.03  # contended repeats re-timed: their extra time, per repeat on average
    # Roofline ÷ measured step, over all points; relative to the dry run's default rates
    # (``dryrun.DEFAULT_CEILINGS``), which on a 2-core CPU happen to match the median point.
    efficiency: float = 1.0
    efficiency_by_kind: dict[tuple[str, str], float] = field(default_factory=dict)
    measured_step_s: dict[str, float] = field(default_factory=dict)  # point id → step, s
    source: str = "defaults"  # or "calibrated from …"


# Σ roofline ÷ Σ step of sweeps/quick.yaml's points on a 2-core CPU, against the dry run's
# default rates (fit_costs on that run, rounded); other operators use ``efficiency``.
CPU_EFFICIENCY = {
    ("attention:sdpa-flash", "fwd"): 2.4,
    ("attention:sdpa-flash", "fwd_bwd"): 2.2,
    ("attention:naive", "fwd"): 0.26,
    ("attention:naive", "fwd_bwd"): 0.36,
    ("hyena:fft", "fwd"): 1.0,
    ("hyena:fft", "fwd_bwd"): 0.92,
    ("hyena:blocked", "fwd"): 1.3,
    ("hyena:blocked", "fwd_bwd"): 1.5,
}
DEFAULT_COSTS = {
    "cpu": Costs(efficiency_by_kind=CPU_EFFICIENCY),
    "cuda": Costs(efficiency=0.3),  # a guess: measured on no GPU
}


def step_seconds(point_id: str, op: str, mode: str, roofline_s: float, costs: Costs) -> float:
    """One step of the point: its stored measurement, else the roofline scaled down by the
    efficiency of its (op, mode), else by the overall one."""
    if point_id in costs.measured_step_s:
        return costs.measured_step_s[point_id]
    return roofline_s / costs.efficiency_by_kind.get((op, mode), costs.efficiency)


def timing_seconds(step_s: float, budget: dict) -> float:
    """The timing stage's sample loop plus its first call and warm-up, without its fixed
    part. ``budget``: the point's budget dict (spec keys: ``seconds``, ``warmup_calls``)."""
    budget_s = budget.get("seconds", budget.get("budget_s", 2.0))
    warmup_calls = budget.get("warmup_calls", budget.get("min_warmup_calls", 3))
    min_samples, max_samples = budget.get("min_samples", 5), budget.get("max_samples", 10_000)
    warmup = max(warmup_calls * step_s, budget.get("warmup_s", 0.0))
    sampling = min(max_samples * step_s, max(min_samples * step_s, budget_s))
    return step_s + warmup + sampling


def repeat_seconds(
    step_s: float,
    budget: dict,
    repeat: int,
    costs: Costs,
    measure_memory: bool,
    count_flops: bool,
    profiled: bool = False,
    execution: str = "eager",
) -> float:
    """Predicted wall time of one repeat of a point (worker start-up not included);
    ``profiled``: the point is also profiled (``hyperf sweep --profile``), after repeat 0;
    ``execution``: the point's exec mode."""
    total = costs.repeat_overhead_s + costs.timing_fixed_s + timing_seconds(step_s, budget)
    if budget.get("retries", 2):
        total += costs.retry_s
    if execution == "compile":
        total += costs.compile_s * (2 if repeat == 0 else 1)
    if repeat == 0 and budget.get("device_steps", 3):
        total += costs.device_fixed_s + (budget.get("device_steps", 3) + 1) * step_s
    if repeat == 0:
        stages = {
            "check": True,
            "flops": count_flops,
            "memory": measure_memory,
            "profile": profiled,
        }
        for stage in (name for name, runs in stages.items() if runs):
            total += costs.stage_fixed_s.get(stage, 0.0) + STAGE_MULTIPLIERS[stage] * step_s
    return total


def sweep_seconds(
    points: Iterable[tuple[float, dict]], costs: Costs, measure_memory: bool, count_flops: bool
) -> float:
    """Predicted wall time of a sweep over ``points`` that are measured (skipped points cost
    nothing worth counting): (step seconds, budget dict), optionally followed by profiled
    (bool) and the exec mode."""
    points = list(points)
    if not points:
        return costs.driver_start_s
    passes = max(int(b.get("repeats", 1)) for _, b, *_ in points)
    total = costs.driver_start_s + passes * costs.worker_start_s
    for step_s, budget, *extra in points:
        profiled = bool(extra and extra[0])
        execution = extra[1] if len(extra) > 1 else "eager"
        for repeat in range(int(budget.get("repeats", 1))):
            total += repeat_seconds(
                step_s, budget, repeat, costs, measure_memory, count_flops, profiled, execution
            )
    return total


@dataclass(frozen=True)
class StoredRepeat:
    """What ``fit_costs`` reads of one stored repeat (all plain values)."""

    run_id: int
    point_id: str
    op: str
    mode: str
    repeat: int
    step_s: float  # the repeat's median step, s
    stage_s: dict[str, float]
    budget: dict
    roofline_s: float | None = None  # the point's roofline bound, s (None: unknown)
    attempts: int = 1  # timing attempts: > 1 when the contention probe had it re-timed


@dataclass(frozen=True)
class StoredRun:
    run_id: int
    duration_s: float  # finished_at − started_at
    repeats: int  # repeats stored
    passes: int


def _median(values: list[float]) -> float | None:
    values = [v for v in values if math.isfinite(v)]
    return statistics.median(values) if values else None


def fit_costs(
    repeats: list[StoredRepeat], runs: list[StoredRun], base: Costs | None = None
) -> Costs:
    """The model's constants fitted to stored repeats and runs (pure). Constants the data do
    not inform keep ``base``'s values (the defaults)."""
    base = base or Costs()
    if not repeats:
        return base
    fixed = dict(base.stage_fixed_s)
    for stage in MEASURED_STAGES:
        residuals = [
            r.stage_s[stage] - STAGE_MULTIPLIERS[stage] * r.step_s
            for r in repeats
            if stage in r.stage_s
        ]
        value = _median(residuals)
        if value is not None:
            fixed[stage] = max(0.0, value)
    timing = _median(
        [
            r.stage_s["timing"] - timing_seconds(r.step_s, r.budget)
            for r in repeats
            if "timing" in r.stage_s
        ]
    )
    timing_fixed = base.timing_fixed_s if timing is None else max(0.0, timing)
    # Re-timing a contended repeat is part of a sweep's cost on a shared machine: the extra
    # time of the repeats that were re-timed, spread over all repeats (a mean, by design:
    # it is how often that happens that counts).
    timed = [r for r in repeats if "timing" in r.stage_s]
    extra = sum(
        max(0.0, r.stage_s["timing"] - timing_fixed - timing_seconds(r.step_s, r.budget))
        for r in timed
        if r.attempts > 1
    )
    retry_s = extra / len(timed) if timed else base.retry_s
    # Per point, the median of its repeats (a contended repeat does not count); per kind,
    # Σ roofline ÷ Σ step over its points, so the long points, which dominate a sweep's
    # wall time, dominate the ratio as well.
    steps: dict[str, list[float]] = {}
    kinds: dict[str, tuple[tuple[str, str], float | None]] = {}
    for r in repeats:
        if r.step_s > 0:
            steps.setdefault(r.point_id, []).append(r.step_s)
            kinds[r.point_id] = ((r.op, r.mode), r.roofline_s)
    measured = {k: statistics.median(v) for k, v in steps.items()}
    sums: dict[tuple[str, str], list[float]] = {}
    for point_id, (kind, roofline_s) in kinds.items():
        if roofline_s and math.isfinite(roofline_s):
            pair = sums.setdefault(kind, [0.0, 0.0])
            pair[0] += roofline_s
            pair[1] += measured[point_id]
    by_kind = {k: a / b for k, (a, b) in sums.items() if a > 0 and b > 0}
    overall = sum(a for a, _ in sums.values()), sum(b for _, b in sums.values())
    efficiency = overall[0] / overall[1] if overall[0] > 0 and overall[1] > 0 else None
    costs = replace(
        base,
        stage_fixed_s=fixed,
        timing_fixed_s=timing_fixed,
        retry_s=retry_s,
        efficiency=efficiency or base.efficiency,
        efficiency_by_kind={**base.efficiency_by_kind, **by_kind},
        measured_step_s=measured,
    )
    # What stage_s does not see: each run's duration less its stages and worker starts,
    # per repeat.
    staged: dict[int, float] = {}
    for r in repeats:
        staged[r.run_id] = staged.get(r.run_id, 0.0) + sum(r.stage_s.values())
    overheads = [
        (run.duration_s - staged.get(run.run_id, 0.0) - run.passes * base.worker_start_s)
        / run.repeats
        for run in runs
        if run.repeats and run.run_id in staged
    ]
    overhead = _median(overheads)
    if overhead is not None:
        costs = replace(costs, repeat_overhead_s=max(0.0, overhead))
    return costs


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def machine_key(env: dict) -> tuple:
    """What must match for a stored run to calibrate this machine's estimate."""
    return (env.get("device_name") or env.get("cpu_model"), env.get("cpu_cores"))


def load_stored(
    db: str, device: str, key: tuple, roofline: Callable[[dict], float | None] | None = None
) -> tuple[list[StoredRepeat], list[StoredRun]]:
    """The finished runs on ``device`` in ``db`` measured on a machine with ``key``
    (``machine_key``), as ``fit_costs`` reads them; ``roofline``: a stored point's dict
    (``Point.as_dict``) → its roofline seconds, or None. Nothing (no error) when ``db`` does
    not exist or is not a store."""
    try:
        store = Store(db)
    except (StoreError, OSError):
        return [], []
    with store:
        try:
            runs = store.finished_runs(device)
        except sqlite3.Error:  # a damaged store: no calibration
            return [], []
        stored_runs, repeats = [], []
        for run in runs:
            try:
                env = json.loads(run["env_json"] or "{}")
            except json.JSONDecodeError:
                continue
            if machine_key(env) != key:
                continue
            try:
                rows = store.repeat_timings(run["id"])
            except sqlite3.Error:  # a damaged store: this run does not calibrate
                continue
            for row in rows:
                if row["median_ms"] is None or row["status"] not in ("ok", "unchecked", "wrong"):
                    continue
                detail = json.loads(row["detail_json"] or "{}")
                params = json.loads(row["params_json"] or "{}")
                stage_s = detail.get("stage_s") or {}
                if not stage_s:
                    continue
                repeats.append(
                    StoredRepeat(
                        run_id=run["id"],
                        point_id=row["point_id"],
                        op=row["op"],
                        mode=row["mode"],
                        repeat=row["repeat"],
                        step_s=row["median_ms"] / 1e3,
                        stage_s=stage_s,
                        budget=params.get("budget") or {},
                        roofline_s=roofline(params) if roofline else None,
                        attempts=int(row["attempts"] or 1),
                    )
                )
            duration = _seconds_between(run["started_at"], run["finished_at"])
            if duration is not None and rows:
                passes = max(row["repeat"] for row in rows) + 1
                stored_runs.append(StoredRun(run["id"], duration, len(rows), passes))
    return repeats, stored_runs
