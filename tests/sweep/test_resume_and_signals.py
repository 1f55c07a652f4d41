"""A run's lifecycle with real processes and signals: resume only the same spec, say when
there is nothing to resume, retry failed points on request, stop cleanly on SIGTERM and SIGINT,
and share a run between two drivers resuming it at once."""

from __future__ import annotations

import importlib
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperf import registry
from hyperf.cli import main
from hyperf.store import Store
from hyperf.sweep.spec import load_spec, spec_hash

SPEC = """
name: {name}
device: cpu
ops: [{ops}]
axes: {{seq_len: [32, 64, 128], d_model: [16], heads: [2]}}
budget: {{seconds: 0.02, min_samples: 3, warmup_s: {warmup}, warmup_calls: 1, repeats: 2,
         retries: 0, timeout_s: 60}}
measure_memory: false
count_flops: false
"""


def spec_text(name="small", ops="hyena:fft, attention:sdpa-math", warmup=0):
    return SPEC.format(name=name, ops=ops, warmup=warmup)


def hyperf(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def stored(db: Path) -> list[tuple]:
    with Store(db) as store:
        points = store.points()
    return sorted(zip(points["run_id"], points["point_id"], points["median_ms"], strict=True))


def test_resuming_with_another_spec_is_refused_naming_both(write_spec, tmp_path):
    db = tmp_path / "r.db"
    first = write_spec(spec_text(), "first.yaml")
    assert hyperf("sweep", first, "--db", db, "--quiet").exit_code == 0
    before = stored(db)
    other = write_spec(spec_text(name="other", ops="hyena:fft"), "other.yaml")
    result = hyperf("sweep", other, "--db", db, "--resume", "1", "--quiet")
    assert result.exit_code == 2, result.output
    assert "'small'" in result.output and "'other'" in result.output, result.output
    assert "Traceback" not in result.output
    assert stored(db) == before
    with Store(db) as store:
        assert len(store.runs()) == 1 and store.run(1)["status"] == "finished"
    # the same spec written differently (comments, key order, an alias) is the same spec
    same = first.read_text().replace("seconds: 0.02", "budget_s: 0.02")
    same = "# reformatted\n" + same.replace("device: cpu\n", "") + "device: cpu\n"
    again = hyperf("sweep", write_spec(same, "same.yaml"), "--db", db, "--resume", "1")
    assert again.exit_code == 0, again.output
    assert "6 already stored" in again.output and stored(db) == before


def test_resume_with_nothing_to_resume_says_so(write_spec, tmp_path):
    result = hyperf(
        "sweep", write_spec(spec_text(ops="hyena:fft")), "--db", tmp_path / "r.db", "--resume"
    )
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.output and "starting a new run" in result.output


FLAKY = """
import os
from hyperf.ops.longconv.fft import fft_conv
from hyperf.registry import register

@register("longconv:flaky_test", summary="aborts while $HYPERF_FLAKY_FILE exists (tests)")
def flaky_conv(u, k, D):
    if os.path.exists(os.environ["HYPERF_FLAKY_FILE"]):
        os.abort()
    return fft_conv(u, k, D)
"""


@pytest.fixture
def flaky(tmp_path, monkeypatch):
    """A backend that crashes its worker while a flag file exists, in this process and in
    every worker (HYPERF_PLUGINS)."""
    (tmp_path / "flaky_plugin.py").write_text(FLAKY)
    flag = tmp_path / "crash-now"
    flag.write_text("")
    monkeypatch.setenv("HYPERF_FLAKY_FILE", str(flag))
    monkeypatch.setenv("HYPERF_PLUGINS", "flaky_plugin")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("flaky_plugin")
    yield flag
    registry.remove("longconv:flaky_test")
    sys.modules.pop("flaky_plugin", None)


def test_retry_failed_measures_crashed_points_again(write_spec, tmp_path, flaky):
    db = tmp_path / "r.db"
    path = write_spec(spec_text(ops="longconv:fft, longconv:flaky_test"))
    first = hyperf("sweep", path, "--db", db, "--quiet")
    assert first.exit_code == 0 and "3 crashed, 3 ok" in first.output, first.output
    refused = hyperf("sweep", path, "--db", db, "--retry-failed")
    assert refused.exit_code == 2 and "--resume" in refused.output
    flaky.unlink()  # whatever made it crash is fixed
    plain = hyperf("sweep", path, "--db", db, "--resume", "1", "--quiet")
    assert plain.exit_code == 0 and "measured now: none" in plain.output, plain.output
    kept = {p for p in stored(db) if not math.isnan(p[2])}  # the 3 fft points
    retried = hyperf("sweep", path, "--db", db, "--resume", "1", "--retry-failed", "--quiet")
    assert retried.exit_code == 0 and "measured now: 3 ok" in retried.output, retried.output
    with Store(db) as store:
        points = store.points([1])
        repeats = store.repeats([1])
    assert (points["status"] == "ok").all() and len(points) == 6
    assert kept <= set(stored(db))  # the points that were fine were not measured again
    assert len(repeats) == 12 and not repeats.duplicated(["point_id", "repeat"]).any()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_stops_the_worker_and_marks_the_run_interrupted(
    write_spec, tmp_path, plugin_env, signum
):
    db = tmp_path / "r.db"
    path = write_spec(spec_text(ops="longconv:fft, longconv:sleep_test"))
    driver = subprocess.Popen(
        [sys.executable, "-m", "hyperf.cli", "sweep", str(path), "--db", str(db), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # the three fft repeats of the first pass take a second; then the worker hangs in
    # sleep_test (30 s per call)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _repeats_stored(db) < 3:
        time.sleep(0.1)
    time.sleep(1.0)
    workers = _children(driver.pid)
    assert workers, "the driver must have a worker when it is signalled"
    sent = time.monotonic()
    driver.send_signal(signum)
    output, _ = driver.communicate(timeout=30)
    assert time.monotonic() - sent < 10, "the driver must stop promptly"
    assert driver.returncode == 128 + signum, output
    assert "Traceback" not in output and "--resume 1" in output, output
    time.sleep(0.5)
    assert not any(_alive(w) for w in workers), "the worker must not outlive the driver"
    with Store(db) as store:
        assert store.run(1)["status"] == "interrupted"
        assert store.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        kept = store.repeats()
    assert len(kept) == 3 and (kept["status"] == "ok").all()  # finished repeats are kept


def _repeats_stored(db: Path) -> int:
    try:
        with Store(db) as store:
            return len(store.repeats())
    except ValueError:  # no store yet, or its schema not written yet
        return 0


def test_two_drivers_resuming_one_run_share_it(write_spec, tmp_path):
    db = tmp_path / "r.db"
    path = write_spec(spec_text(warmup=0.1))
    spec, text = load_spec(path)
    with Store(db, write=True) as store:
        run = store.create_run(spec.name, text, spec_hash(spec), "cpu", {}, None)
    command = [sys.executable, "-m", "hyperf.cli", "sweep", str(path), "--db", str(db)]
    drivers = [
        subprocess.Popen(
            [*command, "--resume", str(run), "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [d.communicate(timeout=300)[0] for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], outputs
    measured = [len(re.findall(r"^\[\d+/\d+\] ", out, re.MULTILINE)) for out in outputs]
    assert sum(measured) == 12, (measured, outputs)  # 6 points × 2 repeats, none twice
    with Store(db) as store:
        points = store.points([run])
        repeats = store.repeats([run])
        status = store.run(run)["status"]
    assert len(points) == 6 and points["point_id"].is_unique
    assert len(repeats) == 12 and not repeats.duplicated(["point_id", "repeat"]).any()
    assert status == "finished"
