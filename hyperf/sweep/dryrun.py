"""``hyperf sweep --dry-run``: the plan as a table, with predicted time and peak memory.

A spec's cross product can plan far more points than anyone means to measure; the dry run is
where that should show. So the table stops after ``MAX_ROWS`` rows (printing 100,000 rows
takes minutes and helps nobody) while the totals still cover every point, a plan over
``LARGE_PLAN`` points is called out, and the predicted time is given in units a reader takes
in at a glance.

The predicted sweep time is ``hyperf.sweep.estimate``'s model: per-point fixed costs
(worker start-up, the correctness oracle, FLOP counting, memory, the timing loop's budget and
minimum samples, warm-up) around the kernels' time. With ``db``, finished runs in that store
measured on this device and machine calibrate its constants (and the steps of the points they
measured); the output says which.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from rich.console import Console
from rich.table import Table

from hyperf.device import resolve_device
from hyperf.envinfo import capture
from hyperf.format import format_duration
from hyperf.measure.ceilings import load_ceilings, peak_rate, roofline_bound
from hyperf.measure.flops import NoModelError, analytic_bytes, analytic_flops
from hyperf.measure.memory import analytic_peak_bytes
from hyperf.sweep import estimate
from hyperf.sweep.plan import Point, build_plan, point_filter
from hyperf.sweep.spec import Spec
from hyperf.workload import Workload

DEFAULT_CEILINGS = {  # if uncalibrated: FLOP/s for every dtype, bytes/s
    "cpu": {"matmul_flops": {"float32": 50e9}, "copy_bytes_per_s": 10e9},
    "cuda": {"matmul_flops": {"float32": 100e12}, "copy_bytes_per_s": 1.5e12},
}
MAX_ROWS = 200  # rows the table shows; the totals cover every point
LARGE_PLAN = 10_000  # more points than this: warn that measuring them takes long
COLUMNS = ("op", "mode", "dtype", "B", "L", "D", "order", "depth", "pred. ms", "pred. peak MiB")


def _predict(point: Point, ceilings: dict) -> tuple[float | None, str, str, str]:
    """(predicted seconds or None, ms cell, peak MiB cell, note) for one point."""
    if point.skip_reason:
        return None, "—", "—", point.skip_reason
    w = point.workload
    try:
        seconds = roofline_bound(  # the roofline at this dtype's peak
            analytic_flops(w, point.mode)["total"],
            analytic_bytes(w, point.mode)["total"],
            peak_rate(ceilings, w.dtype),
            ceilings["copy_bytes_per_s"],
        ).seconds
        peak = analytic_peak_bytes(w, point.mode)  # None: no memory model
    except NoModelError as error:  # a plugin's operator without a model: time unknown
        return None, "?", "?", str(error)
    except ValueError as error:  # a shape the operator does not handle: it will fail
        return None, "—", "—", f"will fail: {error}"
    peak_cell = "?" if peak is None else f"{peak / 2**20:.0f}"
    return seconds, f"{1e3 * seconds:.2f}", peak_cell, ""


def _stored_roofline(ceilings: dict):
    """A stored point's dict → its roofline seconds (None when it cannot be predicted)."""

    def roofline(data: dict) -> float | None:
        try:
            w = Workload(**data["workload"])
            return roofline_bound(
                analytic_flops(w, data["mode"])["total"],
                analytic_bytes(w, data["mode"])["total"],
                peak_rate(ceilings, w.dtype),
                ceilings["copy_bytes_per_s"],
            ).seconds
        except (KeyError, TypeError, ValueError):
            return None

    return roofline


def wall_costs(db: str | None, device_name: str, ceilings: dict) -> estimate.Costs:
    """The wall-time model's constants: fitted to ``db``'s finished runs on this device and
    machine when there are any, else the defaults for the device type."""
    base = estimate.DEFAULT_COSTS.get(device_name.split(":")[0], estimate.Costs())
    if not db:
        return base
    key = estimate.machine_key(capture())
    repeats, runs = estimate.load_stored(db, device_name, key, _stored_roofline(ceilings))
    if not repeats:
        return base
    ids = sorted({r.run_id for r in repeats})
    source = (
        f"calibrated from {len({r.point_id for r in repeats}):,} stored points of "
        f"run{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))} in {db}"
    )
    return replace(estimate.fit_costs(repeats, runs, base), source=source)


def print_plan(
    spec: Spec,
    device: str | None,
    max_rows: int = MAX_ROWS,
    db: str | None = None,
    profile: str | None = None,
    stored: set[str] = frozenset(),
) -> None:
    """Print the first ``max_rows`` points with their predictions, and the predicted wall
    time of the whole sweep (calibrated from ``db``'s finished runs on this device, if any;
    ``profile``: the sweep's point filter for profiling, '' for every point, None for none;
    ``stored``: ids of points a resumed run already holds, which cost nothing); warnings
    about the plan's size go to stderr."""
    device_name = str(resolve_device(device or spec.device))
    plan = build_plan(spec, device_name)
    profiled = point_filter(profile) if profile is not None else (lambda point: False)
    calibrated = load_ceilings(device_name)
    ceilings = calibrated.as_dict() if calibrated else DEFAULT_CEILINGS[device_name.split(":")[0]]
    source = "calibrated ceilings" if calibrated else "default rates"
    # The wall-time model's efficiencies are relative to the default rates: its yardstick.
    yardstick = DEFAULT_CEILINGS[device_name.split(":")[0]]
    costs = wall_costs(db, device_name, yardstick)
    measured: list[tuple[float, dict, bool, str]] = []
    budget = spec.budget.model_dump(by_alias=True)
    # A causal column only where the plan has bidirectional points (``causal: false``).
    both = any(not p.workload.causal for p in plan)
    columns = (*COLUMNS[:8], "causal", *COLUMNS[8:]) if both else COLUMNS
    rows = []
    for i, point in enumerate(plan):
        seconds, predicted_ms, peak_mib, note = _predict(point, ceilings)
        if point.id in stored:
            note = "stored"
        elif seconds is not None:
            w = point.workload
            rough = _predict(point, yardstick)[0] if calibrated else seconds
            step = estimate.step_seconds(point.id, w.op, point.mode, rough or seconds, costs)
            measured.append((step, budget, profiled(point), w.exec))
        if i < max_rows:
            w = point.workload
            cells = (w.op, point.mode, w.dtype, w.batch, w.seq_len, w.d_model, w.order, w.depth)
            causal = ("yes" if w.causal else "no",) if both else ()
            rows.append((*map(str, cells), *causal, predicted_ms, peak_mib, note))
    total_s = estimate.sweep_seconds(measured, costs, spec.measure_memory, spec.count_flops)
    duration = format_duration(total_s)
    if len(plan) > LARGE_PLAN:
        print(
            f"warning: this spec plans {len(plan):,} points; measuring them all would take "
            f"about {duration}. Narrow the axes or add skip rules.",
            file=sys.stderr,
        )
    if len(plan) > max_rows:
        print(
            f"warning: the table shows the first {max_rows:,} of {len(plan):,} points "
            "(the totals cover all)",
            file=sys.stderr,
        )
    table = Table(
        title=f"{spec.name}: {len(plan):,} points on {device_name} (predictions from {source})"
    )
    for column in (*columns, "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(width=max(Console().width, 140)).print(table)
    print(
        f"wall time: fixed costs per point and repeat plus the kernels' time; constants "
        f"{costs.source if costs.source != 'defaults' else 'defaults for ' + device_name}"
    )
    left = sum(point.id not in stored for point in plan)
    if left < len(plan):
        print(f"{len(plan) - left:,} of {len(plan):,} points already stored; the rest: {left:,}")
    print(f"{len(plan):,} points; predicted sweep time about {duration}")
