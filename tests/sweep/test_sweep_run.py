"""Sweeps end to end: worker crashes, time-outs, kill -9 and resume, Ray against local."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec

SMALL = """
name: small
device: cpu
ops: [hyena:fft, attention:sdpa-math]
modes: [fwd, fwd_bwd]
axes: {{seq_len: [32, 64, 128], d_model: [16], heads: [2]}}
budget: {{seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: {timeout},
         retries: 0, repeats: {repeats}}}
measure_memory: false
count_flops: false
"""


def sweep(path: Path, db: Path, **kwargs):
    spec, text = load_spec(path)
    return run_sweep(spec, text, str(db), quiet=True, **kwargs)


def test_a_small_sweep_stores_every_point_from_three_processes(write_spec, tmp_path):
    summary = sweep(write_spec(SMALL.format(timeout=60, repeats=3)), tmp_path / "r.db")
    assert summary.statuses["ok"] == summary.planned == 12
    with Store(tmp_path / "r.db") as store:
        points = store.points([summary.run_id])
        repeats = store.repeats([summary.run_id])
        samples = store.samples([summary.run_id])
        run = store.run(summary.run_id)
    assert (points["status"] == "ok").all() and (points["median_ms"] > 0).all()
    assert (points["max_rel_error"] < 1e-4).all() and points["flops"].gt(0).all()
    assert run["status"] == "finished" and "torch" in run["env_json"]
    assert (points["processes"] == 3).all()
    assert repeats.groupby("point_id")["repeat"].apply(lambda r: sorted(r) == [0, 1, 2]).all()
    # every repeat's raw samples are kept, with their CPU time, and add up to the point's n
    assert samples.groupby("point_id").size().eq(points.set_index("point_id")["n"]).all()
    assert samples["cpu_ms"].notna().all()
    assert (points["ci_low_ms"] < points["median_ms"]).all()
    assert (points["median_ms"] < points["ci_high_ms"]).all()
    assert repeats["wait_share"].notna().all() and repeats["attempts"].ge(1).all()


def test_crashing_and_hanging_points_do_not_stop_the_sweep(write_spec, tmp_path, plugin_env):
    path = write_spec("""
        name: faulty
        device: cpu
        ops: [longconv:fft, longconv:abort_test, longconv:sleep_test, longconv:blocked]
        axes: {seq_len: [32], d_model: [4]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: 8,
                 retries: 0}
        measure_memory: false
        count_flops: false
        """)
    summary = sweep(path, tmp_path / "r.db")
    with Store(tmp_path / "r.db") as store:
        points = store.points([summary.run_id]).set_index("op")
    assert points.loc["longconv:abort_test", "status"] == "crashed"
    assert "exited with code" in points.loc["longconv:abort_test", "error"]
    assert points.loc["longconv:sleep_test", "status"] == "timeout"
    assert points.loc["longconv:fft", "status"] == "ok"
    assert points.loc["longconv:blocked", "status"] == "ok"  # after the crash and the kill


def test_unavailable_backend_is_skipped_with_reason(write_spec, tmp_path):
    path = write_spec("""
        name: skip
        device: cpu
        ops: [attention:sdpa-efficient, attention:flash_attn]
        axes: {seq_len: [32], d_model: [16], heads: [2]}
        """)
    summary = sweep(path, tmp_path / "r.db")
    with Store(tmp_path / "r.db") as store:
        points = store.points([summary.run_id])
    assert (points["status"] == "skipped").all()
    assert points["error"].str.len().gt(10).all()


def test_kill_9_then_resume_stores_each_point_exactly_once(write_spec, tmp_path):
    # A 0.3 s warm-up per point keeps the sweep running for seconds, so the kill, sent as soon
    # as 4 points are stored, always lands mid-run however fast the machine is.
    path = write_spec(SMALL.format(timeout=60, repeats=2).replace("warmup_s: 0,", "warmup_s: 0.2,"))
    db = tmp_path / "r.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "hyperf.cli", "sweep", str(path), "--db", str(db), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and stored < 4:
        time.sleep(0.05)
        try:
            with Store(db) as store:
                stored = len(store.points())
        except ValueError:  # not created, or its schema not yet written
            pass
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its worker, mid-run
    process.wait()
    with Store(db) as store:
        before = store.points()
        repeats_before = store.repeats()
    assert 4 <= len(before) < 12, "the sweep must be killed mid-run"
    result = CliRunner().invoke(main, ["sweep", str(path), "--db", str(db), "--resume", "--quiet"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        after = store.points()
        samples = store.samples()
        repeats = store.repeats()
    assert len(after) == 12 and after["point_id"].is_unique
    assert after["run_id"].nunique() == 1
    kept = after.set_index("point_id").loc[before["point_id"], "median_ms"]
    assert kept.tolist() == before["median_ms"].tolist()  # not measured again
    assert samples.groupby("point_id").size().eq(after.set_index("point_id")["n"]).all()
    assert len(repeats) == 24 and not repeats.duplicated(["point_id", "repeat"]).any()
    # repeats stored before the kill (first pass of unfinished points too) were kept
    merged = repeats_before.merge(repeats, on=["point_id", "repeat"], suffixes=("", "_after"))
    assert len(merged) == len(repeats_before)
    assert merged["median_ms"].equals(merged["median_ms_after"])


def test_resume_of_an_unknown_run_is_an_error(write_spec, tmp_path):
    path = write_spec(SMALL.format(timeout=60, repeats=1))
    missing = CliRunner().invoke(
        main, ["sweep", str(path), "--db", str(tmp_path / "r.db"), "--resume", "42"]
    )
    assert missing.exit_code == 2 and "r.db does not exist" in missing.output
    assert not (tmp_path / "r.db").exists()  # a refused resume leaves no empty store behind
    with Store(tmp_path / "r.db", write=True) as store:
        store.create_run("other", "", "h", "cpu", {}, None)
    result = CliRunner().invoke(
        main, ["sweep", str(path), "--db", str(tmp_path / "r.db"), "--resume", "42"]
    )
    assert result.exit_code == 2 and "no such run" in result.output


def test_ray_executor_stores_the_same_points_as_local(write_spec, tmp_path):
    ray = pytest.importorskip("ray")
    path = write_spec(SMALL.format(timeout=60, repeats=1))
    local = sweep(path, tmp_path / "local.db")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        remote = sweep(path, tmp_path / "ray.db", executor="ray")
    finally:
        ray.shutdown()
    columns = ["point_id", "op", "mode", "seq_len", "d_model", "status", "n_heads", "flops"]
    with Store(tmp_path / "local.db") as a, Store(tmp_path / "ray.db") as b:
        left = a.points([local.run_id])[columns].sort_values("point_id").reset_index(drop=True)
        right = b.points([remote.run_id])[columns].sort_values("point_id").reset_index(drop=True)
    assert len(left) == 12
    assert left.equals(right)


def test_runs_and_export_in_every_format(write_spec, tmp_path):
    import json

    import pandas as pd

    db = tmp_path / "r.db"
    summary = sweep(write_spec(SMALL.format(timeout=60, repeats=1)), db)
    runner = CliRunner()
    listing = runner.invoke(main, ["runs", "--db", str(db)])
    assert listing.exit_code == 0 and "small" in listing.output
    csv = runner.invoke(main, ["export", str(summary.run_id), "--db", str(db)])
    assert csv.exit_code == 0 and csv.output.count("\n") == 13  # header + 12 points
    as_json = runner.invoke(
        main, ["export", str(summary.run_id), "--db", str(db), "--format", "json"]
    )
    assert len(json.loads(as_json.output)) == 12
    out = tmp_path / "points.parquet"
    parquet = runner.invoke(
        main,
        ["export", str(summary.run_id), "--db", str(db), "--format", "parquet", "-o", str(out)],
    )
    assert parquet.exit_code == 0 and len(pd.read_parquet(out)) == 12
    missing = runner.invoke(main, ["export", "7", "--db", str(db)])
    assert missing.exit_code == 2 and "no run 7" in missing.output


def test_a_bidirectional_sweep_stores_causal_0_and_exports_it(write_spec, tmp_path):
    """``causal: [true, false]``: two attention points per length, one Hyena; the
    bidirectional one is checked on rows at full length, stored with causal 0 and exported
    with it."""
    import json

    path = write_spec("""
        name: encoders
        device: cpu
        ops: [hyena:fft, attention:sdpa-math]
        axes: {seq_len: [32], d_model: [16], heads: [2], causal: [true, false]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: 60,
                 retries: 0, repeats: 1}
        measure_memory: false
        count_flops: false
        """)
    db = tmp_path / "r.db"
    summary = sweep(path, db)
    assert summary.planned == 3 and summary.statuses["ok"] == 3
    with Store(db) as store:
        points = store.points([summary.run_id])
    causal = sorted(zip(points["op"], points["causal"], strict=True))
    assert causal == [("attention:sdpa-math", 0), ("attention:sdpa-math", 1), ("hyena:fft", 1)]
    encoder = points[points["causal"] == 0].iloc[0]
    decoder = points[(points["causal"] == 1) & (points["family"] == "attention")].iloc[0]
    # The core's other half (FlashAttention's convention halves only the causal core).
    assert encoder["flops"] - decoder["flops"] == pytest.approx(4 * 32**2 * 16 / 2)
    assert json.loads(encoder["params_json"])["workload"]["causal"] is False
    assert json.loads(encoder["detail_json"])["checked"] == "sampled rows at full length"
    exported = CliRunner().invoke(
        main, ["export", str(summary.run_id), "--db", str(db), "--format", "json"]
    )
    rows = json.loads(exported.output)
    assert sorted(r["causal"] for r in rows) == [0, 1, 1]
    again = sweep(path, db, resume=True)  # resumed: nothing is measured twice
    assert again.run_id == summary.run_id and again.statuses.get("ok", 0) == 0


def test_triton_points_run_interpreted_and_are_never_ranked(write_spec, tmp_path):
    """On CPU the Triton backend runs (and is checked) in the interpreter; its times are
    stored flagged, without a rate, and the analysis leaves them out of every comparison."""
    pytest.importorskip("triton")
    from hyperf.analysis import mark_rankable

    path = write_spec("""
        name: triton
        device: cpu
        ops: [longconv:triton, longconv:fft, hyena:triton]
        modes: [fwd, fwd_bwd]
        axes: {seq_len: [64, 256], d_model: [4]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: 120,
                 repeats: 1, retries: 0}
        measure_memory: false
        count_flops: false
        """)
    summary = sweep(path, tmp_path / "r.db")
    assert summary.statuses["ok"] == summary.planned == 12
    with Store(tmp_path / "r.db") as store:
        points = mark_rankable(store.points([summary.run_id]))
    triton = points[points["op"].str.endswith(":triton")]
    assert (triton["interpreted"] == 1).all() and triton["tflops"].isna().all()
    assert (triton["max_rel_error"] < 1e-4).all()  # checked against the float64 oracle
    assert (points.loc[points["op"] == "longconv:fft", "interpreted"] == 0).all()
    assert set(points.loc[points["rankable"], "op"]) == {"longconv:fft"}
