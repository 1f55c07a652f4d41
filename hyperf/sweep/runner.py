"""One point, end to end, inside a worker: build → check → measure → a plain row.

Runs in a worker process (local subprocess or Ray task); returns plain data only. Anything
that can fail without killing the process is turned into a status here: unavailable →
``skipped`` (with the registry's reason), predicted not to fit in memory → ``skipped`` (with
the numbers), CUDA out of memory → ``oom``, output off the oracle → ``wrong`` (still timed,
never ranked). Crashes and time-outs are the executor's to record: the process is gone.
"""

from __future__ import annotations

import json
import os
import time
import traceback

import torch

from hyperf import registry
from hyperf.device import resolve_device
from hyperf.measure.ceilings import load_ceilings, roofline
from hyperf.measure.correctness import TOLERANCES, check_workload
from hyperf.measure.flops import analytic_bytes, analytic_flops, counted_flops
from hyperf.measure.memory import (
    analytic_activation_bytes,
    analytic_peak_bytes,
    peak_memory,
    saved_activation_bytes,
)
from hyperf.measure.timing import TimingOptions, time_workload
from hyperf.sweep.plan import Point

MEMORY_HEADROOM = 0.8  # a point may use this fraction of the available memory


def params_columns(point: Point) -> dict:
    w = point.workload
    return {
        "op": w.op,
        "family": w.family,
        "mode": point.mode,
        "device": point.device,
        "dtype": w.dtype,
        "batch": w.batch,
        "seq_len": w.seq_len,
        "d_model": w.d_model,
        "n_heads": w.n_heads,
        "hyena_order": w.order,
        "depth": w.depth,
        "variant": w.variant,
        "emb_dim": w.emb_dim,
        "filter_order": w.filter_order,
        "modulate": int(w.modulate),
        "timed_region": point.timed_region,
    }


def available_memory(device: torch.device) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def runs_interpreted(op: str, device: torch.device) -> bool:
    if not op.endswith(":triton"):
        return False
    from hyperf.ops.longconv import triton_monarch

    check = getattr(triton_monarch, "runs_interpreted", None)
    return bool(check(device)) if check else device.type != "cuda"


def run_point(
    point: Point, measure_memory: bool = True, count_flops: bool = True
) -> tuple[dict, list[float]]:
    """Measure one point; returns (result columns, raw samples in ms)."""
    w = point.workload
    device = resolve_device(point.device)
    result = params_columns(point)
    ok, reason = registry.check_available(w.op, device, w.torch_dtype)
    if not ok:
        return {**result, "status": "skipped", "error": reason}, []
    if point.skip_reason:
        return {**result, "status": "skipped", "error": point.skip_reason}, []
    predicted = analytic_peak_bytes(w, point.mode)
    free = available_memory(device)
    if predicted > MEMORY_HEADROOM * free:
        return {
            **result,
            "status": "skipped",
            "error": (
                f"predicted peak {predicted / 2**30:.1f} GiB exceeds {MEMORY_HEADROOM:.0%} of the "
                f"{free / 2**30:.1f} GiB available"
            ),
        }, []
    budget = point.budget
    options = TimingOptions(
        budget_s=budget["seconds"],
        target_rel_ci=budget["target_rel_ci"],
        min_samples=budget["min_samples"],
        warmup_s=budget["warmup_s"],
        warm=budget["warm"],
        threads=budget["threads"],
    )
    try:
        started = time.perf_counter()
        check = check_workload(w, device)
        check_s = time.perf_counter() - started
        tolerance = point.tolerance or TOLERANCES[w.dtype]
        interpreted = runs_interpreted(w.op, device)
        timing = time_workload(w, point.mode, device, options, interpreted=interpreted)
        flops = analytic_flops(w, point.mode)
        moved = analytic_bytes(w, point.mode)
        memory = peak_memory(w, point.mode, device) if measure_memory else None
        saved = (
            saved_activation_bytes(w, device) if measure_memory and point.mode != "infer" else None
        )
        counted = counted_flops(w, point.mode)["total"] if count_flops else None
    except torch.cuda.OutOfMemoryError as error:
        return {**result, "status": "oom", "error": str(error).splitlines()[0]}, []
    except Exception as error:  # a bug in one backend must not end the sweep
        tail = traceback.format_exc().strip().splitlines()[-6:]
        return {
            **result,
            "status": "crashed",
            "error": f"{type(error).__name__}: {error}\n" + "\n".join(tail),
        }, []
    stats = timing.stats
    status = "ok" if check.max_rel_error <= tolerance else "wrong"
    result.update(
        {
            "status": status,
            "error": None
            if status == "ok"
            else f"max relative error {check.max_rel_error:.3g} > tolerance {tolerance:.3g}",
            "n": stats.n,
            "median_ms": stats.median,
            "mean_ms": stats.mean,
            "std_ms": stats.std,
            "min_ms": stats.min,
            "max_ms": stats.max,
            "p10_ms": stats.p10,
            "p25_ms": stats.p25,
            "p75_ms": stats.p75,
            "p90_ms": stats.p90,
            "iqr_ms": stats.iqr,
            "ci_low_ms": stats.ci_low,
            "ci_high_ms": stats.ci_high,
            "rel_ci_halfwidth": stats.rel_ci_halfwidth,
            "noisy": int(stats.noisy),
            "first_call_ms": timing.first_call_ms,
            "interpreted": int(interpreted),
            "threads": timing.threads,
            "flops": flops["total"],
            "flops_counted": counted,
            "bytes": moved["total"],
            "tflops": None if interpreted else flops["total"] / (stats.median / 1e3) / 1e12,
            "peak_bytes": memory.peak_bytes if memory else None,
            "saved_bytes": saved,
            "saved_bytes_model": analytic_activation_bytes(w) if point.mode != "infer" else None,
            "max_rel_error": check.max_rel_error,
            "tolerance": tolerance,
            "oracle": check.oracle,
            "wall_s": timing.wall_s,
            "detail_json": json.dumps(
                {
                    "flops_terms": flops,
                    "bytes_terms": moved,
                    "check_s": check_s,
                    "memory_method": memory.method if memory else None,
                    "checked_len": check.checked_len,
                    "notes": timing.notes,
                    "roofline": _roofline(
                        flops["total"],
                        moved["total"],
                        stats.median / 1e3,
                        w.dtype,
                        device,
                        interpreted,
                    ),
                }
            ),
        }
    )
    return result, timing.samples_ms


def _roofline(
    flops: float, moved: float, seconds: float, dtype: str, device: torch.device, interpreted: bool
) -> dict | None:
    """Intensity and fraction of the roofline, when ``hyperf calibrate`` has run here."""
    ceilings = None if interpreted else load_ceilings(device)
    return roofline(flops, moved, seconds, ceilings, dtype) if ceilings else None
