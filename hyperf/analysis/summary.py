"""The report's smaller tables, as plain DataFrames: what the runs ran on, what was checked,
how close to the roofline, and which published series to draw beside the measurements. Pure
functions over what ``Store.load`` returns, so the report layer only lays them out."""

from __future__ import annotations

import json

import pandas as pd

from hyperf.analysis.gpu_model import published_table
from hyperf.analysis.predict import published
from hyperf.analysis.rank import rankable_points
from hyperf.analysis.scaling import roofline_table
from hyperf.measure.ceilings import parse_ceilings


def environment_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: what decides its numbers (device, versions, threads, commit)."""
    rows = []
    for run in runs.itertuples(index=False):
        env = json.loads(run.env_json) if run.env_json else {}
        commit = (env.get("git_commit") or "")[:10] + (" (dirty)" if env.get("git_dirty") else "")
        rows.append(
            {
                "run": run.id,
                "name": run.name,
                "device": env.get("device_name"),
                "torch": env.get("torch"),
                "triton": env.get("triton"),
                "threads": env.get("torch_threads"),
                "allocator": env.get("allocator"),
                "commit": commit,
                "started": run.started_at,
            }
        )
    return pd.DataFrame(rows)


def ceilings_by_run(runs: pd.DataFrame) -> tuple[dict[int, dict], list[str]]:
    """Each calibrated run's ceilings (``hyperf calibrate``), by run id, and one line per run
    whose stored ceilings are not valid (``parse_ceilings``): such a run is reported as
    uncalibrated, so an odd stored value never stops the report."""
    found: dict[int, dict] = {}
    problems: list[str] = []
    for run_id, stored in zip(runs["id"], runs["ceilings_json"], strict=True):
        if not stored or stored == "null":
            continue
        try:
            found[int(run_id)] = parse_ceilings(json.loads(stored)).as_dict()
        except ValueError as error:  # json.JSONDecodeError is one
            problems.append(f"run {run_id}'s stored ceilings are ignored (no roofline): {error}")
    return found, problems


def correctness_table(points: pd.DataFrame) -> pd.DataFrame:
    """The largest relative error against the float64 oracle per backend, dtype and causality,
    over every checked point (ranked or not: correctness is not speed)."""
    checked = points[points["status"].isin(["ok", "wrong", "unchecked"])] if len(points) else points
    if checked.empty:
        return pd.DataFrame()
    keys = [c for c in ("op", "dtype", "causal") if c in checked]
    return checked.groupby(keys, as_index=False).agg(
        max_rel_error=("max_rel_error", "max"),
        tolerance=("tolerance", "max"),
        points=("point_id", "count"),
    )


def roofline_summary(points: pd.DataFrame, ceilings: dict[int, dict]) -> pd.DataFrame:
    """Achieved TFLOP/s and GB/s (best over the lengths measured) and the best roofline
    fraction per backend, mode, dtype and causality; each run's points against that run's own
    ceilings, so two machines are never measured against one roof."""
    if points.empty:
        return pd.DataFrame()
    roof = pd.concat(
        [roofline_table(group, ceilings.get(run)) for run, group in points.groupby("run_id")],
        ignore_index=True,
    )
    if roof.empty:
        return roof
    columns = {"tflops": "max", "gbps": "max", "intensity": "median"}
    if "roofline_fraction" in roof:
        columns["roofline_fraction"] = "max"
    keys = [c for c in ("op", "mode", "dtype", "causal") if c in roof]
    return roof.groupby(keys, as_index=False).agg(columns)


def published_overlay(points: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Published series (seq_len, series, ms) drawn beside the times when a run measured their
    configuration, each labelled with its source and GPU, and a sentence on how the run differs:
    the paper's Figure 4.3 (order-2 Hyena at D=768 in half precision) and nvSubquadratic's
    GB200 forward table (D=512, B=1, half precision, forward). (None, "") when neither."""
    if points.empty:
        return None, ""
    ranked = rankable_points(points)
    half = ranked["dtype"].isin(["float16", "bfloat16"])
    frames, notes = [], []
    match = ranked[
        (ranked["family"] == "hyena") & (ranked["d_model"] == 768) & (ranked["hyena_order"] == 2)
        & half
    ]  # fmt: skip
    if not match.empty:
        table = published()["paper_fig4_3"]
        source = "Poli et al. 2023, Fig 4.3 (GPU not stated; A100 likely)"
        frames.append(pd.DataFrame([
            {"seq_len": n, "series": f"{series} — {source}", "ms": v}
            for series, values in table["series"].items()
            for n, v in zip(table["seq_len"], values, strict=True)
            if v is not None
        ]))  # fmt: skip
        notes.append(
            f"Grey dotted: the paper's Figure 4.3 ({table['setting'].strip()}). Its GPU is not "
            f"this run's device, or not known to be: compare shapes, not times. This run: "
            f"{_setting(match)}."
        )
    match = ranked[(ranked["d_model"] == 512) & (ranked["batch"] == 1) & half
                   & ranked["mode"].isin(["infer", "fwd"])]  # fmt: skip
    if not match.empty:
        nv = published_table("nvsubquadratic_gb200.csv")
        nv = nv[nv["status"] == "ok"]
        frames.append(pd.DataFrame({
            "seq_len": nv["seq_len"], "ms": nv["ms"],
            "series": nv["method"] + " — nvSubquadratic, GB200, one measurement each",
        }))  # fmt: skip
        notes.append(
            "Grey: nvSubquadratic's GB200 forward times (bf16, B=1, hidden 512, 4 heads; its "
            "attention bidirectional, its Mamba-2 two scans; single measurements, no "
            "intervals). Its own digest reads everything below about 65K tokens as dispatch "
            "overhead: there its curves are flat, a floor of launches and Python, not the "
            "operators; this run's device time of the same setting is in Wall, device and "
            f"floor. This run: {_setting(match)}."
        )
    if not frames:
        return None, ""
    return pd.concat(frames, ignore_index=True), " ".join(notes)


def _setting(match: pd.DataFrame) -> str:
    devices = ", ".join(sorted(set(match["device"])))
    batches = ", ".join(str(b) for b in sorted(set(match["batch"])))
    return f"{devices}, batch {batches}, modes {', '.join(sorted(set(match['mode'])))}"
