"""What makes a stored point trustworthy: contention is detected with a real CPU hog, plugins
are checked against their family's oracle, and every spec setting is honoured or rejected."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec

CONTENDED = """
name: contended
device: cpu
ops: [hyena:fft]
modes: [fwd_bwd]
axes: {seq_len: [256, 512], d_model: [32], depth: [1]}
budget: {seconds: 0.3, warmup_s: 0, warmup_calls: 1, repeats: 1, retries: 1}
measure_memory: false
count_flops: false
"""


def sweep(path, db):
    spec, text = load_spec(path)
    summary = run_sweep(spec, text, str(db), quiet=True)
    with Store(db) as store:
        return store.points([summary.run_id]), store.repeats([summary.run_id])


@pytest.fixture
def cpu_hog():
    """A process spinning on each core this test may use, for the length of the test."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    yield [h.pid for h in hogs]
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_a_busy_machine_makes_points_contended_and_retried(write_spec, tmp_path, cpu_hog):
    points, repeats = sweep(write_spec(CONTENDED), tmp_path / "r.db")
    assert (points["status"] == "ok").all()
    assert (points["contended"] == 1).all()
    assert (repeats["attempts"] == 2).all()  # retried once, still contended
    assert (repeats["wait_share"] > 0.10).all()
    reasons = [json.loads(d)["contended_because"] for d in points["detail_json"]]
    assert all("waited for a CPU" in r[0][0] for r in reasons)


def test_a_quiet_machine_leaves_points_uncontended(write_spec, tmp_path):
    points, repeats = sweep(write_spec(CONTENDED), tmp_path / "r.db")
    assert (points["contended"] == 0).all()
    assert (repeats["attempts"] == 1).all() and (repeats["wait_share"] < 0.10).all()


PLUGINS = """
name: plugins
device: cpu
ops: [attention:scaled_test, attention:sdpa-math, longconv:mine_test, longconv:self_test]
modes: [fwd]
axes: {seq_len: [64], d_model: [16], heads: [2]}
budget: {seconds: 0.02, warmup_s: 0, warmup_calls: 1, repeats: 1, retries: 0}
measure_memory: false
count_flops: false
"""


def test_plugins_are_checked_by_their_familys_oracle(write_spec, tmp_path, plugin_env):
    points, _ = sweep(write_spec(PLUGINS), tmp_path / "r.db")
    points = points.set_index("op")
    wrong = points.loc["attention:scaled_test"]
    assert wrong["status"] == "wrong" and wrong["oracle"] == "attention:naive@float64"
    assert wrong["max_rel_error"] == pytest.approx(0.5, rel=1e-3)  # 1.5× the right answer
    assert points.loc["attention:sdpa-math", "status"] == "ok"
    mine = points.loc["longconv:mine_test"]  # correct, but hyperf has no FLOP model for it
    assert mine["status"] == "ok" and mine["oracle"] == "longconv:reference@float64"
    assert mine["flops"] is None or mine["flops"] != mine["flops"]  # stored empty
    assert "no FLOP model" in json.loads(mine["detail_json"])["flops_note"]
    unchecked = points.loc["longconv:self_test"]
    assert unchecked["status"] == "unchecked" and unchecked["median_ms"] > 0
    assert "names itself" in unchecked["error"]


SETTINGS = """
name: settings
device: cpu
ops: [hyena:fft]
modes: [fwd]
axes: {{seq_len: [64], d_model: [16]}}
points:
  - {{op: hyena:fft, seq_len: 128, d_model: 16, mode: fwd_bwd}}
budget: {{seconds: 0.02, warmup_s: 0, warmup_calls: {warmup}, repeats: 2, retries: 0,
         min_samples: 7, max_samples: 7}}
measure_memory: false
count_flops: false
"""


@pytest.mark.parametrize("warmup", [0, 4])
def test_budget_and_point_modes_reach_the_measurement(write_spec, tmp_path, warmup):
    points, repeats = sweep(write_spec(SETTINGS.format(warmup=warmup)), tmp_path / "r.db")
    modes = dict(zip(points["seq_len"], points["mode"], strict=True))
    assert modes == {64: "fwd", 128: "fwd_bwd"}  # the points entry's own mode
    assert (repeats["warmup_calls"] == warmup).all()
    assert (repeats["n"] == 7).all() and (points["n"] == 14).all()  # max_samples, 2 processes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\nops: [hyena:fft]\npoints: [{op: hyena:fft, seq_len: -512}]\n",
            "points.0.seq_len: Input should be greater than or equal to 1",
        ),
        (
            "name: x\nops: [hyena:fft]\npoints: [{op: hyena:fft, batch: 0}]\n",
            "points.0.batch: Input should be greater than or equal to 1",
        ),
        (
            "name: x\nops: [hyena:fft]\npoints: [{op: hyena:fft, dtype: float8}]\n",
            "points.0.dtype: unknown dtype 'float8'; allowed: float32",
        ),
        (
            "name: x\nops: [hyena:fft]\npoints: [{op: hyena:fft, mode: train}]\n",
            "points.0.mode: unknown mode 'train'; allowed: infer, fwd, bwd, fwd_bwd",
        ),
        (
            "name: x\nops: [hyena:fft]\npoints: [{op: hyena:fft, colour: red}]\n",
            "points.0.colour: unknown key; allowed: op,",
        ),
        (
            "name: x\nops: [attention:naive]\naxes: {heads: [0]}\n",
            "axes.heads.0: Input should be greater than or equal to 1",
        ),
        (
            "name: x\nops: [attention:naive]\naxes: {heads: [5], d_model: [64]}\n",
            "n_heads 5 must divide d_model 64",
        ),
        (
            "name: x\nops: [hyena:fft]\nbudget: {warmup_calls: -1}\n",
            "budget.warmup_calls: Input should be greater than or equal to 0",
        ),
        (
            "name: x\nops: [hyena:fft]\nbudget: {repeats: 0}\n",
            "budget.repeats: Input should be greater than or equal to 1",
        ),
        ("name: x\nops: [hyena:fft]\nbudget: {flush: yes}\n", "budget.flush: unknown key;"),
    ],
)
def test_bad_points_and_settings_are_rejected_before_anything_is_written(
    write_spec, tmp_path, text, message
):
    path = write_spec(text)
    db = tmp_path / "results.db"
    result = CliRunner().invoke(main, ["sweep", str(path), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert message in result.output and str(path) in result.output
    assert not db.exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_memory_cached_from_earlier_points_counts_as_available():
    """A worker measures many points: what torch's allocator caches from one must not make
    the next look too large to fit (an H100 sweep skipped attention at 16K for it)."""
    from hyperf.sweep.runner import available_memory

    device = torch.device("cuda")
    before = available_memory(device)
    block = torch.empty(before // 2, dtype=torch.uint8, device=device)
    del block  # back to the caching allocator, not to the driver
    assert available_memory(device) >= 0.95 * before
