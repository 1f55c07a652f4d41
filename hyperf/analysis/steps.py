"""A benchmark's history as one point per commit (``commit_series``), and the steps in it
(``history_steps``): the rows of ``Store.benchmark_history`` through ``hyperf.stats.bootstrap``
(each commit's time and CI) and ``hyperf.stats.steps`` (where the level changed, and the model
and penalty behind it)."""

from __future__ import annotations

import json
import math

import pandas as pd

from hyperf.stats.bootstrap import centre, summarize_point
from hyperf.stats.steps import detect_steps

BOOTSTRAP_RESAMPLES = 1000  # for a commit with several runs; enough for a plotted 95 % CI

UNKNOWN_COMMITS = frozenset({"", "unknown", "unversioned"})  # pytest-benchmark's placeholders


def commit_series(history: pd.DataFrame) -> pd.DataFrame:
    """One row per benchmark and commit, in commit order (``position`` 0, 1, … per
    benchmark): its time and 95 % CI in seconds.

    Each imported run of a benchmark is one process in ``hyperf.stats.bootstrap``'s model, and
    a commit's time is their ``centre`` (one run: its median; several: the geometric mean
    of their medians). With raw samples (``--benchmark-save-data``) the CI is
    ``summarize_point``'s: the order-statistic interval of the median for one run, the
    two-level bootstrap for several; without them there is no CI. Results of an unknown or
    dirty commit are never pooled: each is its own point."""
    columns = ["fullname", "name", "group", "position", "commit", "label", "time"]
    columns += ["median_s", "ci_low_s", "ci_high_s", "runs", "rounds"]
    if history.empty:
        return pd.DataFrame(columns=columns)
    commit = history["commit_id"].fillna("unknown")
    dirty = history["dirty"].fillna(0).astype(bool)
    pooled = ~commit.isin(UNKNOWN_COMMITS) & ~dirty
    frame = history.assign(
        commit_id=commit,
        time=history["commit_time"].fillna(history["datetime"]),
        label=commit.where(~pooled, commit.str[:10]) + dirty.map({True: " (dirty)", False: ""}),
        key=commit.where(pooled, commit + "@" + history["result_id"].astype(str)),
    )
    rows = []
    for (fullname, key), runs in frame.groupby(["fullname", "key"], sort=False):
        samples = [json.loads(d) if isinstance(d, str) else None for d in runs["data_json"]]
        if all(samples):
            point = summarize_point(samples, resamples=BOOTSTRAP_RESAMPLES)
            middle, low, high = point.centre, point.ci_low, point.ci_high
        else:
            middle, low, high = centre([[m] for m in runs["median_s"]]), math.nan, math.nan
        rows.append(
            {
                "fullname": fullname,
                "name": runs["name"].iloc[0],
                "group": runs["bench_group"].iloc[0],
                "key": key,
                "commit": runs["commit_id"].iloc[0],
                "label": runs["label"].iloc[0],
                "time": runs["time"].min(),
                "median_s": middle,
                "ci_low_s": low,
                "ci_high_s": high,
                "runs": len(runs),
                "rounds": int(runs["rounds"].fillna(0).sum()),
            }
        )
    series = pd.DataFrame(rows).sort_values(["fullname", "time", "key"], kind="stable")
    series["position"] = series.groupby("fullname").cumcount()
    return series[columns].reset_index(drop=True)


def history_steps(series: pd.DataFrame, **options) -> pd.DataFrame:
    """The steps ``detect_steps`` finds in each benchmark of ``commit_series``: one row per
    step (benchmark, position and commit where the new level starts, before/after in
    seconds, relative change). ``options`` go to ``detect_steps``."""
    rows = []
    for fullname, group in series.groupby("fullname", sort=True):
        fit = detect_steps(group["median_s"].to_numpy(), group["commit"].tolist(), **options)
        for step in fit.steps:
            at = group.iloc[step.index]
            rows.append(
                {
                    "fullname": fullname,
                    "name": at["name"],
                    "group": at["group"],
                    "position": step.index,
                    "commit": step.commit,
                    "label": at["label"],
                    "time": at["time"],
                    "before_s": step.before,
                    "after_s": step.after,
                    "change": step.change,
                }
            )
    columns = ["fullname", "name", "group", "position", "commit", "label", "time"]
    return pd.DataFrame(rows, columns=[*columns, "before_s", "after_s", "change"])
