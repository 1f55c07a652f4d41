"""Costs per layer, per order step and per byte: linear fits over the points DataFrame.

- time per layer: least-squares line time = c₀ + c₁·depth at fixed everything else; c₁ is
  the cost of one more block and R² says whether depth is really linear;
- cost per order step: the same line over the Hyena order;
  each slope carries a 95 % interval (``hyperf.stats.fits.slope_interval``) and is
  ``resolved`` only where it rests on ≥ 3 levels or its interval excludes zero — a line
  through two noisy points, or a negative cost, is not a result;
- memory: bytes ≈ a·L^b per series (log-log least squares), the length where Hyena's bytes
  drop below attention's, and the longest L whose predicted bytes fit a budget:
  L_max = (budget / a)^(1/b).
"""

from __future__ import annotations

import math

import pandas as pd

from hyperf.analysis.crossover import PAIR_KEYS, SERIES_KEYS, interpolate_crossing, series_columns
from hyperf.analysis.rank import rankable_points
from hyperf.format import achieved_gbps, achieved_tflops
from hyperf.measure.ceilings import roofline
from hyperf.stats.fits import fit_power_law, linear_fit, slope_interval

MIN_STEP_LEVELS = 3  # levels a per-step cost needs unless its interval excludes zero


def step_costs(points: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Slope of time over ``axis`` ("depth" or "hyena_order") with the other axes fixed,
    with its 95 % interval and whether it is ``resolved`` (see the module docstring)."""
    ok = rankable_points(points)
    if axis == "hyena_order":
        ok = ok[ok["family"] == "hyena"]
    others = [
        c
        for c in (
            "run_id",
            "op",
            "mode",
            "seq_len",
            "d_model",
            "batch",
            "dtype",
            "depth",
            "hyena_order",
            "variant",
            "causal",
            "exec",
        )
        if c != axis
    ]
    rows = []
    for keys, group in ok.groupby(others):
        if group[axis].nunique() < 2:
            continue
        slope, intercept, r2 = linear_fit(group[axis], group["median_ms"])
        low, high = slope_interval(
            group[axis], group["median_ms"], group["ci_low_ms"], group["ci_high_ms"]
        )
        levels = group[axis].nunique()
        excludes_zero = low > 0 or high < 0
        resolved = (levels >= MIN_STEP_LEVELS or excludes_zero) and slope > 0
        rows.append(
            {
                **dict(zip(others, keys, strict=True)),
                "per_step_ms": slope,
                "ci_low_ms": low,
                "ci_high_ms": high,
                "intercept_ms": intercept,
                "r2": r2 if levels >= MIN_STEP_LEVELS else float("nan"),  # 2 points: R² = 1
                "steps": levels,
                "resolved": bool(resolved),
            }
        )
    return pd.DataFrame(rows)


def memory_fits(
    points: pd.DataFrame, column: str = "saved_bytes", budget_bytes: float = 80e9
) -> pd.DataFrame:
    """bytes ≈ a·L^b per series and the longest L that fits ``budget_bytes``."""
    ok = rankable_points(points)
    ok = ok[ok[column].notna() & (ok[column] > 0)]
    rows = []
    for keys, group in ok.groupby(SERIES_KEYS, dropna=False):  # None: a default
        if group["seq_len"].nunique() < 2:
            continue
        fit = fit_power_law(group["seq_len"], group[column])
        max_len = (budget_bytes / fit.a) ** (1 / fit.b) if fit.b > 0 else float("inf")
        rows.append(
            {
                **series_columns(keys),
                "b": fit.b,
                "r2": fit.r2,
                f"max_L_within_{budget_bytes / 1e9:.0f}GB": max_len,
            }
        )
    return pd.DataFrame(rows)


def memory_crossovers(points: pd.DataFrame, column: str = "saved_bytes") -> pd.DataFrame:
    """The L where a Hyena series' bytes drop below an attention series' (same axes);
    ``causal`` is the attention's (0: bidirectional)."""
    ok = rankable_points(points)
    ok = ok[ok[column].notna()]
    keys = [k for k in PAIR_KEYS if k != "device"]
    rows = []
    hyena, attention = ok[ok["family"] == "hyena"], ok[ok["family"] == "attention"]
    for fixed, h_all in hyena.groupby(keys):
        a_all = attention.merge(pd.DataFrame([dict(zip(keys, fixed, strict=True))]), on=keys)
        for (h_op, order), h in h_all.groupby(["op", "hyena_order"]):
            for (a_op, causal), a in a_all.groupby(["op", "causal"]):
                common = sorted(set(h["seq_len"]) & set(a["seq_len"]))
                if len(common) < 2:
                    continue
                hb = h.groupby("seq_len")[column].first().loc[common]
                ab = a.groupby("seq_len")[column].first().loc[common]
                crossing = interpolate_crossing(common, hb.values, ab.values)
                note = (
                    "measured"
                    if crossing
                    else (
                        "Hyena uses less at every length"
                        if hb.iloc[0] <= ab.iloc[0]
                        else "no crossing in range"
                    )
                )
                rows.append(
                    {
                        **dict(zip(keys, fixed, strict=True)),
                        "hyena": h_op,
                        "order": order,
                        "attention": a_op,
                        "causal": causal,
                        "memory_crossover_L": crossing,
                        "note": note,
                    }
                )
    return pd.DataFrame(rows)


def roofline_table(points: pd.DataFrame, ceilings: dict | None) -> pd.DataFrame:
    """Achieved TFLOP/s and GB/s per rankable point, and the fraction of the roofline bound
    (``hyperf.measure.ceilings.roofline``, at the point's dtype peak) when the run has
    calibrated ceilings (intensity = FLOPs / bytes)."""
    ok = rankable_points(points)
    ok = ok[ok["median_ms"].notna()]
    seconds = ok["median_ms"] / 1e3
    flops = pd.to_numeric(ok["flops"], errors="coerce")  # NULL throughout reads as None
    moved = pd.to_numeric(ok["bytes"], errors="coerce")
    table = pd.DataFrame(
        {
            "op": ok["op"],
            "mode": ok["mode"],
            "dtype": ok["dtype"],
            "seq_len": ok["seq_len"],
            "depth": ok["depth"],
            "order": ok["hyena_order"],
            "causal": ok["causal"],
            "tflops": achieved_tflops(flops, seconds),
            "gbps": achieved_gbps(moved, seconds),
            "intensity": flops / moved,
        }
    )
    if ceilings:
        table["roofline_fraction"] = [
            _fraction(f, b, s, ceilings, dtype)
            for f, b, s, dtype in zip(flops, moved, seconds, ok["dtype"], strict=True)
        ]
    return table


def _fraction(flops: float, moved: float, seconds: float, ceilings: dict, dtype: str) -> float:
    try:
        return roofline(flops, moved, seconds, ceilings, dtype)["roofline_fraction"]
    except ValueError:  # no calibrated rate for this dtype nor float32
        return math.nan
