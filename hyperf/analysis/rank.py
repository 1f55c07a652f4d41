"""The one rule for which points may be ranked: compared, fitted, plotted or crossed.

A point's time is a speed worth comparing only when the point was checked against an
independent oracle and passed (status ``ok``; ``unchecked`` and ``wrong`` do not), ran
compiled (not under the Triton interpreter) and ran alone (not ``contended``). ``load``
marks every point once with ``mark_rankable``; every figure, fit, crossover, speedup,
per-step cost and memory table then takes ``rankable_points`` and filters on nothing else,
and the report lists the rest with ``not_ranked_because``.
"""

from __future__ import annotations

import pandas as pd

INTERPRETED = "interpreted (Triton interpreter)"
CONTENDED = "contended"


def _flag(points: pd.DataFrame, column: str) -> pd.Series:
    """A 0/1 column as booleans; absent (older databases) or NULL reads as 0."""
    values = points[column] if column in points.columns else pd.Series(0, index=points.index)
    return pd.to_numeric(values, errors="coerce").fillna(0).astype(bool)


def mark_rankable(points: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``points`` with ``rankable`` (bool) and ``not_ranked_because`` (str, '' when
    rankable: 'status wrong', 'interpreted (Triton interpreter)', 'contended', joined by
    '; ' when several apply)."""
    status = (
        points["status"].astype(str)
        if "status" in points.columns
        else pd.Series("missing", index=points.index)
    )
    interpreted, contended = _flag(points, "interpreted"), _flag(points, "contended")
    reasons = [
        "; ".join(
            reason
            for reason, applies in (
                (f"status {s}", s != "ok"),
                (INTERPRETED, i),
                (CONTENDED, c),
            )
            if applies
        )
        for s, i, c in zip(status, interpreted, contended, strict=True)
    ]
    because = pd.Series(reasons, index=points.index, dtype=object)
    return points.assign(rankable=because == "", not_ranked_because=because)


def with_causal(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with a ``causal`` column of 0/1 integers: stores before schema 6 and frames
    built by hand have none, or NULLs, and every point of theirs was causal (1). Comparisons
    group on it, so a bidirectional attention series is never merged with a causal one."""
    values = points["causal"] if "causal" in points.columns else pd.Series(1, index=points.index)
    flags = pd.to_numeric(values, errors="coerce").fillna(1).astype(int)
    return points.assign(causal=flags)


def _marked(points: pd.DataFrame) -> pd.DataFrame:
    return points if "rankable" in points.columns else mark_rankable(points)


def rankable_points(points: pd.DataFrame) -> pd.DataFrame:
    """The points whose times may be compared (marks ``points`` first if ``load`` did not),
    with ``causal`` filled in (``with_causal``)."""
    marked = _marked(points)
    return with_causal(marked[marked["rankable"]])


def not_ranked_points(points: pd.DataFrame) -> pd.DataFrame:
    """Every other point, each with its ``not_ranked_because``: shown, never compared."""
    marked = _marked(points)
    return marked[~marked["rankable"]]
