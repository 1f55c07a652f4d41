"""Analysis: pure functions over the points DataFrame (``Store.load`` reads it; the report
model marks each point ``rankable`` once with ``hyperf.analysis.rank.mark_rankable``). Every
comparison takes ``rankable_points`` and nothing filters by status on its own. No function
here opens a store or plans a sweep: it is handed DataFrames."""

from __future__ import annotations

from hyperf.analysis.rank import mark_rankable, not_ranked_points, rankable_points

__all__ = ["mark_rankable", "not_ranked_points", "rankable_points"]
