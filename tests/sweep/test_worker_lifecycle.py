"""A sweep's worker processes: start-up is not a point's time, a worker that cannot start is a
crashed point, a worker dies with its driver, a refused allocation is ``oom``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec

TINY = """
name: tiny
device: cpu
ops: [hyena:fft, attention:sdpa-math]
modes: [fwd, fwd_bwd]
axes: {seq_len: [32], d_model: [16], heads: [2]}
budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: 1.5,
         retries: 0, repeats: 2}
measure_memory: false
count_flops: false
"""


def sweep(path: Path, db: Path):
    spec, text = load_spec(path)
    summary = run_sweep(spec, text, str(db), quiet=True)
    with Store(db) as store:
        return summary, store.points([summary.run_id])


def worker_plugin(tmp_path: Path, monkeypatch, name: str, code: str) -> None:
    """Load ``code`` as plugin ``name`` in every worker; it runs ``code`` there only (the
    driver imports it too, to validate the spec's ops)."""
    (tmp_path / f"{name}.py").write_text(
        "import sys, time\nif sys.argv[0].endswith('worker.py'):\n    " + code + "\n"
    )
    monkeypatch.setenv("HYPERF_PLUGINS", name)
    python_path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", python_path)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_worker_start_up_does_not_count_against_a_short_timeout(write_spec, tmp_path, monkeypatch):
    """Every worker takes over 1.5 s to start (torch, and a plugin that sleeps 2 s on import,
    so however fast the machine), longer than each tiny point may take; all are still ok,
    measured in two passes by two workers."""
    worker_plugin(tmp_path, monkeypatch, "slow_start", "time.sleep(2)")
    summary, points = sweep(write_spec(TINY), tmp_path / "r.db")
    assert summary.planned == 4
    assert points["status"].tolist() == ["ok"] * 4, points[["op", "mode", "error"]].to_string()
    assert (points["processes"] == 2).all()


def test_a_worker_that_cannot_start_makes_its_point_crashed(write_spec, tmp_path, monkeypatch):
    """A plugin that fails on import in the worker (only there: the driver loads it fine)."""
    code = "raise ImportError('this plugin refuses to load in a worker')"
    worker_plugin(tmp_path, monkeypatch, "worker_breaker", code)
    path = write_spec("""
        name: broken
        device: cpu
        ops: [longconv:fft]
        axes: {seq_len: [32], d_model: [4]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, repeats: 1}
        """)
    _, points = sweep(path, tmp_path / "r.db")
    assert points["status"].tolist() == ["crashed"]
    error = points["error"].iloc[0]
    assert error.startswith("worker failed to start: it exited with code 1")
    assert "this plugin refuses to load in a worker" in error


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc/*/stat: works without procps)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running, not exited (a zombie has exited: only its parent's reaping is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_hung_worker_dies_with_its_driver_killed_by_sigkill(write_spec, tmp_path, plugin_env):
    mark = tmp_path / "hanging"
    path = write_spec("""
        name: orphan
        device: cpu
        ops: [longconv:hang_test]
        axes: {seq_len: [32], d_model: [4]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: 900,
                 repeats: 1}
        measure_memory: false
        count_flops: false
        """)
    command = ["sweep", str(path), "--db", str(tmp_path / "r.db"), "--quiet"]
    driver = subprocess.Popen(
        [sys.executable, "-m", "hyperf.cli", *command],
        env={**os.environ, "HYPERF_TEST_HANG_MARK": str(mark)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not mark.exists() and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mark.exists(), "the worker never reached the hanging point"
        workers = children(driver.pid)
        assert len(workers) == 1
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone: no handler of its runs
        driver.wait()
        deadline = time.monotonic() + 10
        while alive(workers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(workers[0]), "the worker outlived its driver"
    finally:
        for pid in [driver.pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        driver.wait()


def overcommit_refuses_1_tib() -> bool:
    """Whether this machine refuses a 1 TiB CPU tensor at once, as the hog backend needs."""
    if Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1":
        return False  # always overcommit: the allocation would succeed, untouched
    try:
        torch.empty(2**40, dtype=torch.uint8)
    except RuntimeError:
        return True
    return False


def test_a_refused_cpu_allocation_is_oom_and_the_sweep_goes_on(write_spec, tmp_path, plugin_env):
    if sys.platform != "linux" or not overcommit_refuses_1_tib():
        pytest.skip("this machine does not refuse a 1 TiB allocation at once")
    path = write_spec("""
        name: hog
        device: cpu
        ops: [longconv:fft, longconv:hog_test, longconv:blocked]
        axes: {seq_len: [32], d_model: [4]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1, timeout_s: 60,
                 retries: 0, repeats: 2}
        measure_memory: false
        count_flops: false
        """)
    _, points = sweep(path, tmp_path / "r.db")
    points = points.set_index("op")
    assert points.loc["longconv:hog_test", "status"] == "oom"
    assert f"{2**40} bytes" in points.loc["longconv:hog_test", "error"]
    assert points.loc["longconv:fft", "status"] == "ok"
    assert points.loc["longconv:blocked", "status"] == "ok"
