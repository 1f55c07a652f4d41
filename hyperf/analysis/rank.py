"""The one rule for which points may be ranked: compared, fitted, plotted or crossed.

A point's time is a speed worth comparing only when the point was checked against an
independent oracle and passed (status ``ok``; ``unchecked`` and ``wrong`` do not), ran
compiled (not under the Triton interpreter), ran alone (not ``contended``) and, under
torch.compile, was not recompiled while its samples were taken. ``load``
marks every point once with ``mark_rankable``; every figure, fit, crossover, speedup,
per-step cost and memory table then takes ``rankable_points`` and filters on nothing else,
and the report lists the rest with ``not_ranked_because``.
"""

from __future__ import annotations

import pandas as pd

from hyperf.params import point_params

INTERPRETED = "interpreted (Triton interpreter)"
CONTENDED = "contended"
RECOMPILED = "recompiled while sampling (torch.compile)"


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
    recompiled = _flag(points, "recompiled")
    reasons = [
        "; ".join(
            reason
            for reason, applies in (
                (f"status {s}", s != "ok"),
                (INTERPRETED, i),
                (CONTENDED, c),
                (RECOMPILED, r),
            )
            if applies
        )
        for s, i, c, r in zip(status, interpreted, contended, recompiled, strict=True)
    ]
    because = pd.Series(reasons, index=points.index, dtype=object)
    return points.assign(rankable=because == "", not_ranked_because=because)


def with_point_defaults(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with every parameter added later (``Param.added_later``: ``causal`` as 0/1,
    ``exec``) filled with its default where the column is absent or NULL: stores migrated
    from before it and frames built by hand have none, and every point of theirs ran that
    way. Comparisons group on these, so a bidirectional attention series or a compiled one
    is never merged with the eager causal one."""
    filled = {}
    for name, (_, default, facts) in point_params().items():
        if not facts.added_later:
            continue
        column = facts.column_name(name)
        values = points[column] if column in points.columns else pd.Series(None, index=points.index)
        if isinstance(default, bool):
            filled[column] = pd.to_numeric(values, errors="coerce").fillna(int(default)).astype(int)
        else:
            filled[column] = values.astype(object).where(values.notna(), default)
    return points.assign(**filled)


def _marked(points: pd.DataFrame) -> pd.DataFrame:
    return points if "rankable" in points.columns else mark_rankable(points)


def rankable_points(points: pd.DataFrame) -> pd.DataFrame:
    """The points whose times may be compared (marks ``points`` first if ``load`` did not),
    with the parameters added later filled in (``with_point_defaults``)."""
    marked = _marked(points)
    return with_point_defaults(marked[marked["rankable"]])


def not_ranked_points(points: pd.DataFrame) -> pd.DataFrame:
    """Every other point, each with its ``not_ranked_because``: shown, never compared."""
    marked = _marked(points)
    return marked[~marked["rankable"]]
