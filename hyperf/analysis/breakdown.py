"""Where the time goes: profiled points' time per category (``hyperf/ops/regions.py``).

A breakdown is measured with the profiler on, so its milliseconds are a profile's, not the
point's timed median: it says which stage took the time, and the report shows it beside the
timings, never in their place. Only rankable points are drawn (the one filter,
``hyperf.analysis.rank``): an interpreted or contended profile says nothing about the stages.
"""

from __future__ import annotations

import pandas as pd

from hyperf.analysis.rank import rankable_points

POINT_COLUMNS = [
    "op",
    "family",
    "mode",
    "dtype",
    "batch",
    "seq_len",
    "d_model",
    "hyena_order",
    "depth",
    "causal",
    "rankable",
    "not_ranked_because",
]


def breakdown_table(points: pd.DataFrame, breakdowns: pd.DataFrame) -> pd.DataFrame:
    """Breakdown rows of rankable points with the points' parameters, and ``ms``: the device
    time where the profile has one (a GPU's kernels), else the CPU time."""
    if breakdowns.empty or points.empty:
        return pd.DataFrame()
    ranked = rankable_points(points)[["run_id", "point_id", *POINT_COLUMNS]]
    table = breakdowns.merge(ranked, on=["run_id", "point_id"])
    table["ms"] = table["device_ms"].where(table["device_ms"].fillna(0) > 0, table["cpu_ms"])
    return table.sort_values(["op", "mode", "seq_len", "category"]).reset_index(drop=True)
