"""``hyperf bench ab``: a real interleaved A/B of two commits of this repository.

The test clones the repository at HEAD into a temporary folder, commits a change there that
gives longconv:fft's forward ten more inverse/forward FFT round trips (same output; ~4× its
time at L=256 here), and runs ``hyperf bench ab`` over two CPU benchmarks in real pytest
processes, five a side. The slowdown is large on purpose: processes of one build are not
always alike here (with three more round trips, ~1.9×, one NEW process of five ran at 0.6×
its siblings' time, and the gate rightly called the change inconclusive), and with three
processes a side Student's t on 2 degrees of freedom widens a 99 % interval 4.7× over a
normal one. The test is about the mechanism, not about the smallest change it can see;
``reports/cpu-gate`` measures that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FFT = "hyperf/ops/longconv/fft.py"
LINE = "            y = torch.fft.irfft(y_f, n=n)[..., :seq_len]\n"
SLOWER = (
    "            y = torch.fft.irfft(y_f, n=n)\n"
    "            for _ in range(10):  # a test's slowdown: ten more round trips, same output\n"
    "                y = torch.fft.irfft(torch.fft.rfft(y, n=n), n=n)\n"
    "            y = y[..., :seq_len]\n"
)
# Two backends at L=256, fwd only; 20 % threshold for all (the repository's CPU groups allow
# more, and this test is about the mechanism, not about the machine's noise).
SELECTION = ["-k", "test_longconv and L256 and fwd and not fwd_bwd and (fft or blocked)"]
THRESHOLDS = "default = 0.2\n"


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """This repository at HEAD, with one more commit that slows longconv:fft's forward."""
    folder = tmp_path_factory.mktemp("ab") / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder)], check=True)
    source = (folder / FFT).read_text()
    assert source.count(LINE) == 1, f"{FFT} changed: update this test's patch"
    (folder / FFT).write_text(source.replace(LINE, SLOWER))
    git(
        folder,
        "commit",
        "--quiet",
        "-am",
        "longconv:fft: ten more FFT passes (a test's slowdown)",
    )
    (folder / "thresholds.toml").write_text(THRESHOLDS)
    return folder


def ab(repo: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "hyperf.cli", "bench", "ab", *args]
    env = {**os.environ, "PYTHONPATH": ""}  # the CLI from this checkout's install
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env, timeout=600)


def verdicts(done: subprocess.CompletedProcess) -> dict[str, str]:
    """Each benchmark's verdict, by operator."""
    return {b["params"]["op"]: b["verdict"] for b in json.loads(done.stdout)["benchmarks"]}


@pytest.mark.slow
def test_ab_finds_the_slowed_backend_and_nothing_else(clone):
    options = [*SELECTION, "--processes", "5", "--max-time", "0.1"]
    options += ["--thresholds", "thresholds.toml"]
    done = ab(clone, "HEAD~1", "HEAD", *options, "--json", "--out", "kept")
    assert done.returncode == 1, done.stderr
    found = verdicts(done)
    assert found["longconv:fft"] == "regression", done.stdout
    assert found["longconv:blocked"] != "regression", done.stdout
    assert "5 processes each, alternating" in done.stderr
    kept = json.loads((clone / "kept" / "new.json").read_text())
    assert {len(b["extra_info"]["hyperf_process_rounds"]) for b in kept["benchmarks"]} == {5}

    same = ab(clone, "HEAD", "HEAD", *options, "--json")
    assert same.returncode == 0, same.stderr
    assert "regression" not in verdicts(same).values(), same.stdout


def test_ab_refuses_bad_refs(clone, tmp_path):
    unknown = ab(clone, "no-such-branch")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: no-such-branch")
    assert "Traceback" not in unknown.stderr
    # A commit without the benchmark suite: an orphan commit holding one file.
    git(clone, "checkout", "--quiet", "--orphan", "bare")
    git(clone, "rm", "-rq", "--cached", ".")
    (clone / "only.txt").write_text("no suite here\n")
    git(clone, "add", "only.txt")
    git(clone, "commit", "--quiet", "-m", "a tree without tests/benchmarks")
    bare = git(clone, "rev-parse", "HEAD")
    git(clone, "checkout", "--quiet", "-f", "main")
    done = ab(clone, bare, "main")
    assert done.returncode == 2, done.stderr
    assert "has no tests/benchmarks" in done.stderr and "Traceback" not in done.stderr
    outside = ab(tmp_path, "HEAD")
    assert outside.returncode == 2 and "not inside a git repository" in outside.stderr
