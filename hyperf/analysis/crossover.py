"""Where do two backends' times cross, how sure are we, and how does each scale?

Pure functions over plain arrays and the points DataFrame (``hyperf.analysis.load``).

Power law. ``t ≈ a·L^b``, fitted by least squares on (log L, log t)
(``hyperf.stats.fits.fit_power_law``).

Crossover. With d(L) = log t_hyena(L) − log t_attention(L) at the measured lengths (sorted),
the crossover is the first sign change of d from + to −, placed by linear interpolation in
log L between the two bracketing points:  log L* = log L₁ + d₁·(log L₂ − log L₁)/(d₁ − d₂).
Its 95% CI (``CONFIDENCE``) comes from the two-level bootstrap of ``hyperf.stats.bootstrap``:
replicate every point's time (resample its processes, then each process's samples; widened for
few processes), recompute L* per replicate, take the equal-tailed percentiles of L*.
Speedup CIs are percentiles of the ratio of the two points' independent replicates.
If d never changes sign, the two fitted power laws are solved for a₁L^b₁ = a₂L^b₂,
L* = (a₁/a₂)^(1/(b₂ − b₁)), and the result is marked as extrapolated — only where the fits
can carry it: each through at least ``MIN_FIT_POINTS`` lengths with R² ≥ ``MIN_FIT_R2``, and
L* at most ``MAX_EXTRAPOLATION``× the longest measured length. Launch-bound times (flat in L,
as small GPU problems are) fit a power law badly, and an exponent difference near zero puts
L* anywhere (an H100 run gave 5·10²⁴): such an estimate is noise, and is not shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hyperf.analysis.rank import rankable_points
from hyperf.params import MIXERS, SUBQUADRATIC, columns_where, point_params
from hyperf.stats.bootstrap import centre, log_replicates
from hyperf.stats.fits import fit_power_law
from hyperf.stats.sample import percentile_interval

# The mixers compared with attention at one shape: Hyena's and the state-space ones (a bare
# long convolution is (B, C, L), not a mixer).
COMPARED = tuple(f for f in SUBQUADRATIC if f in MIXERS)
MIN_FIT_POINTS = 3  # a power law through two points fits anything
MIN_FIT_R2 = 0.9  # on (log L, log t)
MAX_EXTRAPOLATION = 8.0  # three doublings beyond the longest measured length


@dataclass(frozen=True)
class Crossover:
    hyena: str
    attention: str
    seq_len: float | None = None  # None: no crossing found or predicted
    ci_low: float | None = None
    ci_high: float | None = None
    extrapolated: bool = False
    note: str = ""


def interpolate_crossing(seq_len, t_hyena, t_attention) -> float | None:
    """First L where Hyena stops being slower, interpolated in log-log; None if it never does."""
    x = np.log(np.asarray(seq_len, float))
    d = np.log(np.asarray(t_hyena, float)) - np.log(np.asarray(t_attention, float))
    if d.size and d[0] <= 0:
        return None  # faster from the first length on: no crossing inside the range
    for i in range(d.size - 1):
        if d[i] > 0 >= d[i + 1]:
            return float(math.exp(x[i] + d[i] * (x[i + 1] - x[i]) / (d[i] - d[i + 1])))
    return None


Repeats = list[list[float]]  # one point's raw samples, one list per process


def replicates(points: list[Repeats], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(points, resamples) two-level bootstrap replicates of each point's time, in ms
    (``log_replicates``: processes, then samples, widened for few processes)."""
    return np.exp([log_replicates(p, resamples, rng) for p in points])


def bootstrap_crossing(
    seq_len,
    samples_hyena: list[Repeats],
    samples_attention: list[Repeats],
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float | None, float | None, float]:
    """95% CI of the crossing from two-level replicates of every point, and the fraction of
    replicates that cross at all."""
    rng = np.random.default_rng(seed)
    hyena = replicates(samples_hyena, resamples, rng)
    attention = replicates(samples_attention, resamples, rng)
    found = [
        c
        for b in range(resamples)
        if (c := interpolate_crossing(seq_len, hyena[:, b], attention[:, b])) is not None
    ]
    if not found:
        return None, None, 0.0
    low, high = percentile_interval(found)
    return low, high, len(found) / resamples


RESOLVED_SHARE = 0.95  # replicates that must cross for a crossing to count as measured


def resolved(seq_len, measured: float, low, high, share: float) -> bool:
    """A measured crossing is a result when ≥ 95 % of the replicates cross and its 95 %
    interval stays within the bracketing lengths' neighbours (L_{i−1} … L_{i+2} around the
    bracket L_i ≤ L* ≤ L_{i+1}); an interval wider than that says more than the data do."""
    if low is None or share < RESOLVED_SHARE:
        return False
    lengths = np.asarray(seq_len, float)
    i = int(np.clip(np.searchsorted(lengths, measured) - 1, 0, len(lengths) - 2))
    return lengths[max(i - 1, 0)] <= low and high <= lengths[min(i + 2, len(lengths) - 1)]


def crossover(
    seq_len,
    samples_hyena: list[Repeats],
    samples_attention: list[Repeats],
    hyena: str,
    attention: str,
) -> Crossover:
    medians_h = [centre(s) for s in samples_hyena]
    medians_a = [centre(s) for s in samples_attention]
    measured = interpolate_crossing(seq_len, medians_h, medians_a)
    if measured is not None:
        low, high, share = bootstrap_crossing(seq_len, samples_hyena, samples_attention)
        if not resolved(seq_len, measured, low, high, share):
            where = f"anywhere in {low:,.0f}–{high:,.0f}" if low is not None else "nowhere"
            note = (
                f"not resolved (medians cross near L ≈ {measured:,.0f}; {share:.0%} of "
                f"replicates cross, {where})"
            )
            return Crossover(hyena, attention, note=note)
        return Crossover(hyena, attention, measured, low, high, False, "measured")
    if medians_h[0] <= medians_a[0]:
        already = f"{hyena} is already faster at the shortest length, L={seq_len[0]}"
        return Crossover(hyena, attention, note=already)
    fit_h, fit_a = fit_power_law(seq_len, medians_h), fit_power_law(seq_len, medians_a)
    if not fit_a.b > fit_h.b:
        never = (
            f"no crossing measured up to L={seq_len[-1]}, and the fitted exponents "
            f"({fit_h.b:.2f} vs {fit_a.b:.2f}) never meet"
        )
        return Crossover(hyena, attention, extrapolated=True, note=never)
    estimate = (fit_h.a / fit_a.a) ** (1 / (fit_a.b - fit_h.b))
    beyond = f"no crossing measured up to L={seq_len[-1]}"
    if min(fit_h.n, fit_a.n) < MIN_FIT_POINTS or min(fit_h.r2, fit_a.r2) < MIN_FIT_R2:
        loose = (
            f"{beyond}; the power-law fits (R² {fit_h.r2:.2f} and {fit_a.r2:.2f} over "
            f"{min(fit_h.n, fit_a.n)} lengths) are too loose to extrapolate"
        )
        return Crossover(hyena, attention, note=loose)
    if estimate > MAX_EXTRAPOLATION * seq_len[-1]:
        far = (
            f"{beyond}; the fits meet only more than {MAX_EXTRAPOLATION:g}× beyond it, "
            "further than they can be trusted"
        )
        return Crossover(hyena, attention, note=far)
    flags = [exponent_flag("hyena", fit_h.b)[1], exponent_flag("attention", fit_a.b)[1]]
    if any(flags):  # overhead-bound (or cache-bound) lines say nothing about longer L
        outside = (
            f"{beyond}; the fitted exponents ({fit_h.b:.2f} vs {fit_a.b:.2f}) lie outside "
            f"their expected ranges, so the fits do not describe longer L: {flags[0] or flags[1]}"
        )
        return Crossover(hyena, attention, note=outside)
    return Crossover(
        hyena,
        attention,
        float(estimate),
        None,
        None,
        True,
        f"extrapolated from power-law fits (b={fit_h.b:.2f} vs {fit_a.b:.2f})",
    )


# --- over the points DataFrame ------------------------------------------------------------

# Hyena and attention are compared where these are equal; a series (a curve over L) is one
# operator at one value of each series key. Both derive from the point model
# (``hyperf.params``): a bidirectional attention series (``causal`` 0) is its own series.
PAIR_KEYS = ["run_id", "mode", "device", *columns_where("paired")]
SERIES_KEYS = ["run_id", "op", "mode", *columns_where("series")]


def own_series_columns(families: tuple[str, ...]) -> list[str]:
    """The columns that tell apart the series of one side of a pair (order, taps and state for
    the subquadratic side; causality and window for attention): the series parameters of
    those families that the two sides need not share."""
    return [
        facts.column_name(name)
        for name, (_, _, facts) in point_params().items()
        if facts.series and not facts.paired and set(facts.families or ()) & set(families)
    ]


def series_columns(keys: tuple) -> dict:
    """A series' identifying columns (``SERIES_KEYS``), with the order called "order"."""
    named = dict(zip(SERIES_KEYS, keys, strict=True))
    named["order"] = named.pop("hyena_order")
    return named


rankable = rankable_points  # the one rule (``hyperf.analysis.rank``), under its older name


def crossovers(points: pd.DataFrame, samples: dict[tuple[int, str], list[float]]) -> pd.DataFrame:
    """Every (Hyena backend and order, attention backend and causality) pair with the other
    axes fixed; ``causal`` says which attention (0: bidirectional)."""
    ok = rankable_points(points)
    hyena = ok[ok["family"].isin(COMPARED)]
    attention = ok[ok["family"] == "attention"]
    rows = []
    by = [*PAIR_KEYS, "op", *own_series_columns(COMPARED), "variant"]
    by_a = ["op", *own_series_columns(("attention",))]
    for keys, h_group in hyena.groupby(by, dropna=False):
        named = dict(zip(by, keys, strict=True))
        fixed = {k: named[k] for k in PAIR_KEYS}
        mask = np.logical_and.reduce([attention[k] == v for k, v in fixed.items()])
        for keys_a, a_group in attention[mask].groupby(by_a, dropna=False):
            named_a = dict(zip(by_a, keys_a, strict=True))
            common = sorted(set(h_group["seq_len"]) & set(a_group["seq_len"]))
            if len(common) < 2:
                continue
            h = h_group.drop_duplicates("seq_len").set_index("seq_len").loc[common]
            a = a_group.drop_duplicates("seq_len").set_index("seq_len").loc[common]
            result = crossover(
                common,
                [samples[(fixed["run_id"], p)] for p in h["point_id"]],
                [samples[(fixed["run_id"], p)] for p in a["point_id"]],
                named["op"],
                named_a["op"],
            )
            rows.append(
                {
                    **fixed,
                    "hyena": result.hyena,
                    "order": named["hyena_order"],
                    "variant": named["variant"],
                    "attention": result.attention,
                    "causal": named_a["causal"],
                    "crossover_L": result.seq_len,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "extrapolated": result.extrapolated,
                    "note": result.note,
                    "lengths": f"{common[0]}–{common[-1]}",
                }
            )
    return pd.DataFrame(rows)


def speedups(
    points: pd.DataFrame,
    samples: dict[tuple[int, str], Repeats],
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Attention time / Hyena time per L for every pair (> 1: Hyena is faster), with its 95%
    CI from two-level replicates of both points (the ratio of independent replicates);
    ``causal`` is the attention's (0: bidirectional); ``noisy`` when either point was."""
    ok = rankable_points(points)
    hyena = ok[ok["family"].isin(COMPARED)]
    attention = ok[ok["family"] == "attention"]
    keys = [*PAIR_KEYS, "seq_len"]
    merged = hyena.merge(attention, on=keys, suffixes=("_h", "_a"))
    rng = np.random.default_rng(seed)
    bounds = []
    for row in merged.itertuples():
        h = replicates([samples[(row.run_id, row.point_id_h)]], resamples, rng)[0]
        a = replicates([samples[(row.run_id, row.point_id_a)]], resamples, rng)[0]
        bounds.append(percentile_interval(a / h))
    bounds = np.reshape(bounds, (-1, 2))
    noisy = [
        pd.to_numeric(merged.get(f"noisy{side}", pd.Series(0, index=merged.index)), "coerce")
        .fillna(0)
        .astype(bool)
        for side in ("_h", "_a")
    ]
    return pd.DataFrame(
        {
            **{k: merged[k] for k in keys},
            "hyena": merged["op_h"],
            "order": merged["hyena_order_h"],
            "attention": merged["op_a"],
            "causal": merged["causal_a"],
            "speedup": merged["median_ms_a"] / merged["median_ms_h"],
            "speedup_low": bounds[:, 0],
            "speedup_high": bounds[:, 1],
            "noisy": noisy[0] | noisy[1],  # either point's IQR over 10 % of its median
        }
    )


# The exponent each family's time should approach once L is large enough for its main term
# to dominate: Hyena ≈ 1 (L log L reads 1.0–1.2 over the usual ranges), attention → 2.
EXPECTED_EXPONENT = {"hyena": (0.9, 1.3, "≈1 (L log L)"), "attention": (1.5, 2.3, "→2 (L²)")}


def exponent_flag(family: str, b: float) -> tuple[str, str]:
    """(expected range as text, flag with the likely reason, or "")."""
    low, high, text = EXPECTED_EXPONENT["hyena" if family in SUBQUADRATIC else "attention"]
    if b < low:
        return text, (
            f"exponent {b:.2f} below {low}: fixed per-call costs (launches, overheads) still "
            "weigh at the short lengths — measure longer L before reading it as scaling"
        )
    if b > high:
        return text, (
            f"exponent {b:.2f} above {high}: the long lengths leave cache or memory, or hit "
            "contention — check the longest points"
        )
    return text, ""


def scaling_fits(points: pd.DataFrame) -> pd.DataFrame:
    """Power-law fit of time vs L per series (≥ 3 lengths; ``points`` says how many), with a
    flag and its likely reason where the exponent is outside the family's expected range."""
    ok = rankable_points(points)
    rows = []
    for keys, group in ok.groupby(SERIES_KEYS, dropna=False):  # None: a default
        if group["seq_len"].nunique() < 3:
            continue
        fit = fit_power_law(group["seq_len"], group["median_ms"])
        family = group["family"].iloc[0]
        expected, flag = exponent_flag(family, fit.b)
        if fit.r2 < 0.9:
            flag = (flag + "; " if flag else "") + f"poor fit (R²={fit.r2:.2f})"
        rows.append(
            {
                **series_columns(keys),
                "a_ms": fit.a,
                "b": fit.b,
                "r2": fit.r2,
                "points": fit.n,
                "expected": expected,
                "flag": flag,
            }
        )
    return pd.DataFrame(rows)
