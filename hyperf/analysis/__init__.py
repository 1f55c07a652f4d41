"""Analysis: pure functions over the points DataFrame that ``load`` reads from the store.

``load`` marks each point ``rankable`` once (``hyperf.analysis.rank``); every comparison
takes ``rankable_points`` and nothing filters by status on its own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hyperf.analysis.rank import mark_rankable, not_ranked_points, rankable_points
from hyperf.store import Store

__all__ = ["load", "mark_rankable", "not_ranked_points", "rankable_points"]


def load(
    db: str | Path, run_ids: list[int] | None = None
) -> tuple[pd.DataFrame, dict[tuple[int, str], list[list[float]]], pd.DataFrame]:
    """(points marked by ``mark_rankable``, raw samples keyed by (run_id, point_id) with one
    list per process, runs) for the given runs (all if None). Raises ValueError naming the
    database and run when one is missing; StoreError
    (a ValueError) when the database cannot be read."""
    with Store(db) as store:
        runs = store.runs()
        missing = sorted(set(run_ids or []) - set(runs["id"]))
        if missing:
            raise ValueError(f"{db}: no runs {missing}; it holds {runs['id'].tolist()}")
        chosen = run_ids or runs["id"].tolist()
        points = store.points(chosen)
        samples = store.samples(chosen)
        details = {run_id: store.run(run_id) for run_id in chosen}
    grouped = {
        key: [process["ms"].tolist() for _, process in group.groupby("repeat")]
        for key, group in samples.groupby(["run_id", "point_id"])
    }
    runs = runs[runs["id"].isin(chosen)].assign(
        env_json=[details[i]["env_json"] for i in runs["id"] if i in details],
        ceilings_json=[details[i]["ceilings_json"] for i in runs["id"] if i in details],
    )
    return mark_rankable(points), grouped, runs
