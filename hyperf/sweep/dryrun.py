"""``hyperf sweep --dry-run``: the plan as a table, with predicted time and peak memory."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hyperf.device import resolve_device
from hyperf.measure.ceilings import load_ceilings, peak_rate, roofline_bound
from hyperf.measure.flops import analytic_bytes, analytic_flops
from hyperf.measure.memory import analytic_peak_bytes
from hyperf.sweep.plan import build_plan
from hyperf.sweep.spec import Spec

DEFAULT_CEILINGS = {  # if uncalibrated: FLOP/s for every dtype, bytes/s
    "cpu": {"matmul_flops": {"float32": 50e9}, "copy_bytes_per_s": 10e9},
    "cuda": {"matmul_flops": {"float32": 100e12}, "copy_bytes_per_s": 1.5e12},
}


def print_plan(spec: Spec, device: str | None) -> None:
    device_name = str(resolve_device(device or spec.device))
    plan = build_plan(spec, device_name)
    calibrated = load_ceilings(device_name)
    ceilings = calibrated.as_dict() if calibrated else DEFAULT_CEILINGS[device_name.split(":")[0]]
    source = "calibrated ceilings" if calibrated else "default rates"
    table = Table(
        title=f"{spec.name}: {len(plan)} points on {device_name} (predictions from {source})"
    )
    for column in (
        "op",
        "mode",
        "dtype",
        "B",
        "L",
        "D",
        "order",
        "depth",
        "pred. ms",
        "pred. peak MiB",
        "note",
    ):
        table.add_column(column)
    total_s = 0.0
    for point in plan:
        w = point.workload
        note, predicted_ms, peak_mib = point.skip_reason or "", "—", "—"
        if not point.skip_reason:
            try:
                predicted_s = roofline_bound(  # the roofline at this dtype's peak
                    analytic_flops(w, point.mode)["total"],
                    analytic_bytes(w, point.mode)["total"],
                    peak_rate(ceilings, w.dtype),
                    ceilings["copy_bytes_per_s"],
                ).seconds
                predicted_ms = f"{1e3 * predicted_s:.2f}"
                peak_mib = f"{analytic_peak_bytes(w, point.mode) / 2**20:.0f}"
                # every repeat (its own worker process) samples for its budget at least
                total_s += spec.budget.repeats * max(predicted_s * 20, spec.budget.budget_s)
            except ValueError as error:  # a shape the operator does not handle: it will fail
                note = f"will fail: {error}"
        table.add_row(
            w.op,
            point.mode,
            w.dtype,
            str(w.batch),
            str(w.seq_len),
            str(w.d_model),
            str(w.order),
            str(w.depth),
            predicted_ms,
            peak_mib,
            note,
        )
    Console(width=max(Console().width, 140)).print(table)
    print(f"{len(plan)} points; predicted sweep time about {total_s / 60:.1f} min")
