"""One repeat of a point, end to end, inside a worker: build → check → measure → a plain row.

Runs in a worker process (local subprocess or Ray task); returns plain data only. Anything
that can fail without killing the process is turned into a status here: unavailable →
``skipped`` (with the registry's reason), predicted not to fit in memory → ``skipped`` (with
the numbers), an allocation that fails (CUDA or CPU) → ``oom``, output off the oracle →
``wrong``, no independent oracle → ``unchecked`` (both still timed, never ranked). Crashes
(the kernel's OOM killer's included) and time-outs are the executor's to record: the process
is gone.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from hyperf import registry
from hyperf.device import resolve_device
from hyperf.format import format_bytes
from hyperf.measure import execution
from hyperf.measure.correctness import TOLERANCES, check_exec, check_workload
from hyperf.measure.flops import NoModelError, analytic_bytes, analytic_flops, counted_flops
from hyperf.measure.memory import (
    analytic_activation_bytes,
    analytic_peak_bytes,
    peak_memory,
    saved_activation_bytes,
)
from hyperf.measure.timing import TimingOptions, time_workload
from hyperf.params import store_columns
from hyperf.results import Params, Repeat
from hyperf.sweep.plan import Point
from hyperf.sweep.spec import Budget

MEMORY_HEADROOM = 0.8  # a point may use this fraction of the available memory


def point_params(point: Point) -> Params:
    w = point.workload
    return Params(
        **store_columns(w),
        family=w.family,
        mode=point.mode,
        device=point.device,
        timed_region=point.timed_region,
    )


def available_memory(device: torch.device) -> int:
    """Bytes a point may use. On CUDA, the blocks torch's caching allocator keeps from earlier
    points of the same worker are returned first: on an H100 they hid 30 of 79 GiB, and
    points that fit were skipped as too large."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        free, _ = torch.cuda.mem_get_info(device)
        return free
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


# What torch's CPU allocator raises (a RuntimeError) when an allocation fails.
CPU_OOM = "DefaultCPUAllocator: can't allocate memory"


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation that failed: CUDA's OutOfMemoryError, torch's CPU
    allocator refusing (a RuntimeError), or Python's MemoryError. The point needs more memory
    than there is, a fact about the point, not a crash of the backend."""
    return isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)) or (
        isinstance(error, RuntimeError) and CPU_OOM in str(error)
    )


Outcome = tuple[Repeat, list[float], list[float]]  # the repeat, its samples, their CPU ms
RETRY_PAUSE_S = 1.0  # before re-measuring a contended repeat, times the attempt number


def run_point(
    point: Point, repeat: int = 0, measure_memory: bool = True, count_flops: bool = True
) -> Outcome:
    """Measure repeat ``repeat`` of one point: (Repeat row, raw samples ms, CPU ms).

    Repeat 0 also checks correctness and counts FLOPs and memory (they do not vary between
    processes); every repeat times the point, re-timing it up to ``budget.retries`` times
    while the contention probe says something else held the device.
    """
    w = point.workload
    device = resolve_device(point.device)
    ok, reason = registry.check_available(w.op, device, w.torch_dtype, w.seq_len, point.mode)
    if not ok:
        return Repeat("skipped", reason), [], []
    if point.skip_reason:
        return Repeat("skipped", point.skip_reason), [], []
    ok, reason = execution.available(w.exec, device, point.mode)
    if not ok:
        return Repeat("skipped", reason), [], []
    predicted = analytic_peak_bytes(w, point.mode)  # None: no memory model, not skipped
    free = available_memory(device)
    if predicted is not None and predicted > MEMORY_HEADROOM * free:
        return (
            Repeat(
                "skipped",
                f"predicted peak {format_bytes(predicted)} exceeds {MEMORY_HEADROOM:.0%} of "
                f"the {format_bytes(free)} available",
            ),
            [],
            [],
        )
    budget = Budget.model_validate(point.budget)
    options = TimingOptions.model_validate(
        budget.model_dump(include=set(TimingOptions.model_fields))
        | ({} if repeat == 0 else {"device_steps": 0})  # one repeat's device time is enough
    )
    interpreted = registry.runs_interpreted(w.op, device)
    detail: dict = {}
    stage_s: dict[str, float] = {}  # where the repeat's wall-clock time went, s
    try:
        status, error = "ok", None
        if repeat == 0:
            status, error, detail = _first_repeat_facts(
                point, device, measure_memory, count_flops, stage_s
            )
        with _stage(stage_s, "timing"):
            timing = time_workload(w, point.mode, device, options, interpreted=interpreted)
            attempts = 1
            while timing.contended and attempts <= budget.retries:
                time.sleep(RETRY_PAUSE_S * attempts)
                timing = time_workload(w, point.mode, device, options, interpreted=interpreted)
                attempts += 1
        if repeat == 0 and w.exec != "eager":  # after timing: its first call holds compilation
            with _stage(stage_s, "check"):
                status, error, detail["exec_rel_error"] = _check_exec(
                    point, device, options.compile_mode, status, error
                )
    except Exception as failure:  # a bug in one backend must not end the sweep
        if out_of_memory(failure):
            return Repeat("oom", (str(failure) or type(failure).__name__).splitlines()[0]), [], []
        tail = traceback.format_exc().strip().splitlines()[-6:]
        return Repeat("crashed", f"{type(failure).__name__}: {failure}\n" + "\n".join(tail)), [], []
    if repeat == 0 and point.profile_dir:
        with _stage(stage_s, "profile"):
            detail["profile"] = _profile(point, device)
    stats = timing.stats
    readings = timing.contention
    detail.update(
        {
            "stage_s": stage_s,
            "notes": timing.notes,
            "contention": readings,
            "contended_because": timing.contended_because,
            "warmup_calls": timing.warmup_calls,
            "device_time": timing.device_time,
        }
    )
    return (
        Repeat(
            status=status,
            error=error,
            n=stats.n,
            median_ms=stats.median,
            ci_low_ms=stats.ci_low,
            ci_high_ms=stats.ci_high,
            first_call_ms=timing.first_call_ms,
            warmup_calls=timing.warmup_calls,
            threads=timing.threads,
            cpu_share=readings.get("cpu_share"),
            wait_share=readings.get("wait_share"),
            contended=int(timing.contended),
            attempts=attempts,
            interpreted=int(interpreted),
            wall_s=timing.wall_s,
            device_ms=timing.device_time.get("device_ms"),
            device_events=timing.device_time.get("events"),
            recompiled=timing.recompiled,
            detail_json=json.dumps(detail),
        ),
        timing.samples_ms,
        timing.cpu_ms,
    )


@contextmanager
def _stage(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall-clock time of the block to ``seconds[name]`` (s)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started


def _first_repeat_facts(
    point: Point,
    device: torch.device,
    measure_memory: bool,
    count_flops: bool,
    stage_s: dict[str, float],
) -> tuple[str, str | None, dict]:
    """(status, error, detail) from what does not vary between processes: the correctness
    check against an independent oracle, FLOPs and bytes, memory."""
    w = point.workload
    with _stage(stage_s, "check"):
        check = check_workload(w, device)
    tolerance = point.tolerance or TOLERANCES[w.dtype]
    if not check.independent:
        status, error = "unchecked", check.note
    elif check.max_rel_error <= tolerance:
        status, error = "ok", None
    else:
        status = "wrong"
        error = f"max relative error {check.max_rel_error:.3g} > tolerance {tolerance:.3g}"
    detail = {"checked_len": check.checked_len, "checked": check.method}
    try:  # a plugin backend without a model: its FLOPs or bytes stay empty, not a crash
        flops = analytic_flops(w, point.mode)
        detail.update(flops=flops["total"], flops_terms=flops)
    except NoModelError as missing:
        detail["flops_note"] = str(missing)
    try:
        moved = analytic_bytes(w, point.mode)
        detail.update(bytes=moved["total"], bytes_terms=moved)
    except NoModelError as missing:
        detail["bytes_note"] = str(missing)
    if count_flops:
        with _stage(stage_s, "flops"):
            detail["flops_counted"] = counted_flops(w, point.mode, device)["total"]
    if measure_memory:
        with _stage(stage_s, "memory"):
            memory = peak_memory(w, point.mode, device)
            detail.update(peak_bytes=memory.peak_bytes, memory_method=memory.method)
            if point.mode != "infer":
                detail["saved_bytes"] = saved_activation_bytes(w, device)
    saved_model = analytic_activation_bytes(w) if point.mode != "infer" else None
    if saved_model is not None:  # None: the operator has no memory model
        detail["saved_bytes_model"] = saved_model
    detail.update(max_rel_error=check.max_rel_error, tolerance=tolerance, oracle=check.oracle)
    return status, error, detail


def _check_exec(
    point: Point, device: torch.device, compile_mode: str, status: str, error: str | None
) -> tuple[str, str | None, float]:
    """(status, error, relative error) after checking the point's exec mode against eager —
    which the first repeat checked against the oracle: together, the exec mode against it."""
    w = point.workload
    exec_error = check_exec(w, point.mode, device, compile_mode=compile_mode)
    tolerance = point.tolerance or TOLERANCES[w.dtype]
    if exec_error > tolerance and status != "wrong":
        return "wrong", f"exec {w.exec} vs eager: relative error {exec_error:.3g}", exec_error
    return status, error, exec_error


def _profile(point: Point, device: torch.device) -> dict:
    """Profile the point after it was timed (so the profiler never touches its times): the
    breakdown rows for the store, or the reason there are none."""
    from hyperf.profile import profile_workload

    try:
        profile = profile_workload(point.workload, point.mode, device, Path(point.profile_dir))
    except Exception as failure:  # a profile that fails leaves the measurement intact
        return {"error": f"{type(failure).__name__}: {failure}"}
    rows = profile.breakdown.to_dict("records")
    return {
        "dir": point.profile_dir,
        "step_ms": profile.step_ms,
        "notes": profile.notes,
        "breakdown": [{**row, "profile_dir": point.profile_dir} for row in rows],
    }
