"""The adaptive crossover search (``hyperf crossover``): on two plugin operators whose times
are known (tests/plugin_timed.py: C·L/L0 and C·(L/L0)², crossing at exactly L0), its 95 %
interval holds the true crossover and is within tol; a pair that never crosses says so; a
search stopped by SIGTERM resumes without re-measuring what is stored; bad input is refused
before anything is written. The method's maths is also checked alone on simulated times."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hyperf import registry
from hyperf.analysis.search import Probe, estimate
from hyperf.cli import main
from hyperf.report.html import write_report

HERE = Path(__file__).parent
PAIR = ["longconv:linear_test", "longconv:quadratic_test"]
# From L=512 on, the linear operator's spin (C·L/L0 ≥ 0.4 ms with C = 5 ms, L0 ≤ 6,000) is
# well above the floor both share (the convolution and the call, 0.1–0.2 ms here): where both
# sat on that floor, their ratio would be 1 ± noise and could "cross" anywhere.
FAST = ["--d-model", "4", "--seconds", "0.03", "--lmin", "512", "--lmax", "16384"]


def plugin_env(l0: float, c_ms: float = 5.0) -> dict:
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        "HYPERF_PLUGINS": "plugin_timed",
        "PYTHONPATH": path,
        "HYPERF_TEST_L0": f"{l0:g}",
        "HYPERF_TEST_C_MS": f"{c_ms:g}",
    }


def crossover(
    db: Path, env: dict, *options: str, check: bool = True
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "hyperf.cli", "crossover", "--db", str(db), *options]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_interval_holds_the_analytic_crossover(tmp_path):
    """Six real searches, each at a fresh random L0 (log-uniform in 700–6,000): the 95 %
    interval contains L0 in at least 4 and every resolved one is within tol (±10 %). At the
    nominal 95 %, two misses or fewer happen with probability 0.998, so this fails on a broken
    interval, not on chance; the interval's calibration itself is checked more finely, and
    cheaply, on 80 simulated searches (``test_simulated_searches_cover_the_true_crossover``).
    Each real search is a process with its own workers: six cost ~80 s here."""
    hits, rows = 0, []
    for run in range(6):
        l0 = round(math.exp(random.uniform(math.log(700), math.log(6000))))
        result = json.loads(crossover(tmp_path / f"{run}.db", plugin_env(l0), *PAIR, *FAST,
                                      "--json").stdout)  # fmt: skip
        low, high = result["ci_low"], result["ci_high"]
        inside = low is not None and low <= l0 <= high
        hits += inside
        rows.append((l0, result["verdict"], low, high, len(result["probes"])))
        if result["verdict"] == "resolved":
            assert result["half_width"] <= 0.10, rows[-1]
    assert hits >= 4, rows


def test_a_pair_that_never_crosses_says_which_is_faster(tmp_path):
    """With C = 20 ms at L0 = 20,000, over 1K–8K the quadratic one is faster at every probe."""
    env = plugin_env(20000, c_ms=20)
    done = crossover(tmp_path / "r.db", env, *PAIR, *FAST[:4], "--lmin", "1024", "--lmax", "8192",
                     "--json")  # fmt: skip
    result = json.loads(done.stdout)
    assert result["verdict"] == "b faster everywhere"
    assert result["crossover_L"] is None and result["ci_low"] is None
    assert [p["seq_len"] for p in result["probes"]] == [1024, 4096, 8192]
    assert all(p["ratio"] > 1 for p in result["probes"])  # the evidence: A slower at each


@pytest.fixture
def timed_plugin(monkeypatch):
    """The timed operators loaded in this process too (as ``HYPERF_PLUGINS`` loads them), so
    the report can read the search's stored spec; removed afterwards."""
    registry.names()
    monkeypatch.setenv("HYPERF_PLUGINS", "plugin_timed")
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setattr(registry, "_loaded", False)
    yield
    for name in PAIR:
        registry.remove(name)
    sys.modules.pop("plugin_timed", None)


def test_a_search_stopped_by_sigterm_resumes_without_measuring_again(tmp_path, timed_plugin):
    db = tmp_path / "r.db"
    env = plugin_env(2900)
    command = [sys.executable, "-m", "hyperf.cli", "crossover", *PAIR, *FAST, "--db", str(db)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and _stored_points(db) < 4:  # two probes are in
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "--resume 1" in stderr
    before = _samples(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, kind FROM runs").fetchone() == ("interrupted", "search")
    result = json.loads(crossover(db, env, "--resume", "1", "--json").stdout)
    after = _samples(db)
    assert result["verdict"] == "resolved" and result["ci_low"] <= 2900 <= result["ci_high"]
    # every stored repeat kept its samples: nothing was measured twice
    assert {key: after[key] for key in before} == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("finished",)
    # the report draws the search and tables its answer; its probes are no grid
    report = write_report(db, None, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert 'id="searches"' in page and "Searched crossovers" in page
    row = report.searches.iloc[0]
    assert row["verdict"] == "resolved" and row["crossover_L"] == result["crossover_L"]
    assert row["probes"] == len(result["probes"]) and report.crossovers.empty


def _stored_points(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.Error:
        return 0


def _samples(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT point_id, repeat, idx, ms FROM samples").fetchall()
    return {(p, r, i): ms for p, r, i, ms in rows}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["hyena:fft", "hyena:fft"], "a and b are both hyena:fft"),
        (["hyena:fft", "attention:nope"], "unknown op 'attention:nope'"),
        (["hyena:fft", "attention:naive", "--tol", "0"], "tol"),
        (["hyena:fft", "attention:naive", "--tol", "1"], "tol"),
        (["hyena:fft", "attention:naive", "--lmin", "4096", "--lmax", "1024"], "lmin 4096"),
        (["hyena:fft", "attention:naive", "--budget", "0.01"], "budget 0.01 s is less"),
        (["hyena:fft"], "give two operators"),
        (["--resume", "3"], "does not exist"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(tmp_path, arguments, message):
    db = tmp_path / "r.db"
    result = CliRunner().invoke(main, ["crossover", *arguments, "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not db.exists()


# --- the method alone, on simulated times ---------------------------------------------------


def _simulate(t_a, t_b, noise: float, rng: np.random.Generator, tol: float = 0.1):
    """A search over simulated processes: each process's samples are lognormal around the
    true time, with a process offset of noise/2 and a within-process spread of noise."""

    def measure(t: float) -> list[list[float]]:
        return [
            list(t * math.exp(rng.normal(0, noise / 2)) * np.exp(rng.normal(0, noise, 20)))
            for _ in range(3)
        ]

    probes: list[Probe] = []
    while (current := estimate(probes, tol, 256, 65536)).next_len is not None:
        length = current.next_len
        probes.append(Probe(length, measure(t_a(length)), measure(t_b(length))))
    return current


@pytest.mark.parametrize(
    "t_a, t_b",
    [
        (lambda n: 0.3 + 2e-4 * n * math.log2(n), lambda n: 0.05 + 1e-7 * n * n),  # overheads
        (lambda n: 1.0 + 1e-5 * n, lambda n: 0.2 + 2e-8 * n * n),  # a flat, launch-bound A
    ],
    ids=["overheads", "launch-bound"],
)
def test_simulated_searches_cover_the_true_crossover(t_a, t_b):
    """Curved (not power-law) times with 3 % noise: of 40 searches with fresh noise, at least
    36 intervals hold the true root of t_A = t_B (found by bisection here)."""
    low, high = 256.0, 65536.0
    for _ in range(60):  # the true crossover, by bisection in log L
        middle = math.sqrt(low * high)
        low, high = (middle, high) if t_a(middle) > t_b(middle) else (low, middle)
    truth = math.sqrt(low * high)
    rng = np.random.default_rng(random.randrange(2**31))
    results = [_simulate(t_a, t_b, 0.03, rng) for _ in range(40)]
    covered = sum(r.ci_low is not None and r.ci_low <= truth <= r.ci_high for r in results)
    assert covered >= 36, [(r.verdict, r.ci_low, r.ci_high) for r in results]
