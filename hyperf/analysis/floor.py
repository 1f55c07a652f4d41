"""The floor of every point: its wall time against its device time and its roofline floor.

For each rankable point three times of one step:
- ``wall_ms``: the measured median (what a user waits for; under ``eager`` it includes
  Python, dispatch and launches);
- ``device_ms``: one step's summed CUDA kernel time, or on CPU its summed operator self time
  (``hyperf.measure.execution.device_time``, read in repeat 0 after the samples);
- ``floor_ms``: the least time the point's FLOPs and bytes can take at this run's calibrated
  ceilings (``hyperf.measure.ceilings.roofline_bound``: the dtype's matmul rate, the copy
  bandwidth).

``floor_pct`` = floor / wall (100 % is the roofline), ``host_ms`` = wall − device (the part
that is not the operator; NaN where the device time exceeds the wall time — on a CPU the
profiler's own cost inflates operator times, and a negative cost is no result) and
``bound`` the one rule of ``ceilings.bound_class``: ``overhead`` where the device time is
under half the wall time, else ``memory`` or ``compute`` by the ceiling the floor comes
from. A floor needs a FLOP and byte model and calibrated ceilings; without them it is NaN
and the bound rests on the device time alone.
"""

from __future__ import annotations

import math

import pandas as pd

from hyperf.analysis.rank import rankable_points
from hyperf.measure.ceilings import Bound, bound_class, peak_rate, roofline_bound

COLUMNS = [
    "run_id", "op", "mode", "exec", "dtype", "batch", "d_model", "depth", "hyena_order",
    "causal", "seq_len", "wall_ms", "ci_low_ms", "ci_high_ms", "device_ms", "device_events",
    "host_ms", "floor_ms", "floor_pct", "bound",
]  # fmt: skip


def floor_of(flops: float, moved: float, ceilings: dict | None, dtype: str):
    """The roofline floor (``Bound``) of a point, NaN where a count or a ceiling is missing."""
    unknown = Bound(math.nan, "")
    if not ceilings:
        return unknown
    try:
        peak = peak_rate(ceilings, dtype)
    except ValueError:  # no calibrated rate for this dtype nor float32
        return unknown
    return roofline_bound(flops, moved, peak, float(ceilings["copy_bytes_per_s"]))


def floor_table(points: pd.DataFrame, ceilings: dict[int, dict]) -> pd.DataFrame:
    """One row per rankable point (``COLUMNS``); ``ceilings`` by run id (a run's own)."""
    ok = rankable_points(points)
    ok = ok[ok["median_ms"].notna()]
    if ok.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for point in ok.to_dict("records"):
        wall_ms = float(point["median_ms"])
        device_ms = _number(point.get("device_ms"))
        floor = floor_of(
            _number(point.get("flops")),
            _number(point.get("bytes")),
            ceilings.get(point["run_id"]),
            point["dtype"],
        )
        floor_ms = floor.seconds * 1e3
        rows.append(
            {
                **{k: point.get(k) for k in COLUMNS[:11]},
                "wall_ms": wall_ms,
                "ci_low_ms": point.get("ci_low_ms"),
                "ci_high_ms": point.get("ci_high_ms"),
                "device_ms": device_ms,
                "device_events": _number(point.get("device_events")),
                "host_ms": wall_ms - device_ms if wall_ms >= device_ms else math.nan,
                "floor_ms": floor_ms,
                "floor_pct": 100 * floor_ms / wall_ms,
                "bound": bound_class(wall_ms / 1e3, device_ms / 1e3, floor),
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(
        ["run_id", "op", "mode", "exec", "d_model", "depth", "seq_len"], ignore_index=True
    )


def _number(value) -> float:
    """A stored number, or NaN for NULL / missing (``device_ms`` of stores before it)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number
