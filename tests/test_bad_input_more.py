"""Bad input, second round (issue 29): a broken calibration cache, numbers past SQLite's and
C's range, special files, an output that is also an input, a spec key given twice, and a worker
that stalls while it starts. Each refusal is one ``error:`` line naming the path or option,
exit 2, no traceback, every existing file byte-identical; a broken cache is named and ignored.

Real files, real FIFOs and sockets, a real cache directory, a real store made by a real sweep.
Cases that could hang run in a subprocess with a timeout, so a hang fails the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from test_bad_input import SPEC, hyperf, refused

from hyperf.measure.ceilings import Ceilings, device_fingerprint, load_ceilings, parse_ceilings
from hyperf.sweep import executors
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.plan import build_plan
from hyperf.sweep.spec import load_spec

HANG_S = 60  # a case that takes longer than this is hanging on a special file


FINGERPRINT = device_fingerprint(torch.device("cpu"))
GOOD = Ceilings("cpu", "test cpu", FINGERPRINT, 1, {"float32": 1e9}, 1e10).as_dict()
BROKEN_CACHES = {
    "a list": ([GOOD], "not an object"),
    "not JSON": ("{broken", "not valid JSON"),
    "entry not a mapping": ({FINGERPRINT: 3}, "not a mapping"),
    "entry missing keys": ({FINGERPRINT: {"device": "cpu"}}, "lacks copy_bytes_per_s"),
    "zero rate": ({FINGERPRINT: {**GOOD, "matmul_flops": {"float32": 0}}}, "> 0"),
    "string rate": ({FINGERPRINT: {**GOOD, "copy_bytes_per_s": "fast"}}, "'fast', not a number"),
    "infinite rate": ({FINGERPRINT: {**GOOD, "copy_bytes_per_s": float("inf")}}, "finite"),
    "zero threads": ({FINGERPRINT: {**GOOD, "threads": 0}}, "threads is 0"),
}


def write_cache(folder: Path, content: object) -> Path:
    path = folder / "ceilings.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A store holding one finished run of SPEC, and the spec's path; measured with a cache
    whose entry for this device has a string rate (see the cache tests)."""
    tmp = tmp_path_factory.mktemp("made")
    spec_path = tmp / "tiny.yaml"
    spec_path.write_text(textwrap.dedent(SPEC))
    spec, text = load_spec(spec_path)
    write_cache(tmp, {FINGERPRINT: {**GOOD, "copy_bytes_per_s": "fast"}})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HYPERF_CACHE_DIR", str(tmp))
        run_sweep(spec, text, str(tmp / "made.db"), quiet=True)
    return tmp / "made.db", spec_path


def files_of(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` and its bytes (a FIFO is not opened)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# Runs each command of argv[1] (a JSON list) in this one process, through click's CliRunner,
# and prints one JSON line per command; stderr says which command is running.
BATCH = """
import json, sys
from click.testing import CliRunner
from hyperf.cli import main
for args in json.loads(sys.argv[1]):
    print("running: hyperf " + " ".join(args), file=sys.stderr, flush=True)
    result = CliRunner().invoke(main, args)
    print(json.dumps({"args": args, "code": result.exit_code, "output": result.output}), flush=True)
"""


def run_batch(commands: list[list[str]], cwd: Path, env: dict | None = None) -> list[dict]:
    """Each command's exit code and output, run in one fresh process that may not take longer
    than HANG_S in all (one process: the imports are paid once); a hang fails the test and
    names the command that hung."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", BATCH, json.dumps(commands)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=HANG_S,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired as stop:
        err = stop.stderr.decode() if isinstance(stop.stderr, bytes) else stop.stderr or ""
        pytest.fail(f"hung (> {HANG_S} s) at: {err.strip().splitlines()[-1:]}")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def kept(folder: Path, before: dict[str, bytes]) -> None:
    """Every file that existed before is there, byte for byte."""
    after = files_of(folder)
    assert {name: after.get(name) for name in before} == before


# --- the calibration cache -------------------------------------------------------------------


@pytest.mark.parametrize("kind", BROKEN_CACHES)
def test_a_broken_cache_is_named_and_ignored_by_the_dry_run(kind, made, tmp_path, monkeypatch):
    content, phrase = BROKEN_CACHES[kind]
    cache = write_cache(tmp_path, content)
    before = cache.read_bytes()
    monkeypatch.setenv("HYPERF_CACHE_DIR", str(tmp_path))
    result = hyperf("sweep", made[1], "--dry-run", "--db", tmp_path / "none.db")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert f"warning: {cache}" in result.output and phrase in result.output, result.output
    assert "default rates" in result.output  # not a prediction from a rate of 0
    assert cache.read_bytes() == before
    assert not (tmp_path / "none.db").exists()


def test_a_valid_cache_entry_is_used(tmp_path, monkeypatch):
    write_cache(tmp_path, {FINGERPRINT: GOOD, "other-device": {"junk": True}})
    monkeypatch.setenv("HYPERF_CACHE_DIR", str(tmp_path))
    assert load_ceilings("cpu") == parse_ceilings(GOOD)  # another device's junk is not ours


def test_calibrate_if_missing_measures_again_over_a_broken_entry(tmp_path, monkeypatch):
    other = {**GOOD, "fingerprint": "another-device"}
    cache = write_cache(tmp_path, {FINGERPRINT: {**GOOD, "matmul_flops": "many"}, "x": other})
    monkeypatch.setenv("HYPERF_CACHE_DIR", str(tmp_path))
    args = ["calibrate", "--if-missing", "--device", "cpu", "--dtype", "float32"]
    result = hyperf(*args, "--budget", "0.05")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "matmul_flops is 'many'" in result.output and "saved to" in result.output
    table = json.loads(cache.read_text())
    assert parse_ceilings(table[FINGERPRINT]).matmul_flops["float32"] > 1e6
    assert table["x"] == other  # another device's entry is kept as it was
    assert "already cached" in hyperf(*args).output  # and now it is found


def test_a_broken_cache_never_reaches_the_store(made):
    """``made``'s sweep ran with a string rate in its cache: it ran uncalibrated and its run
    stores no ceilings (a later report would otherwise meet the string)."""
    conn = sqlite3.connect(made[0])
    assert conn.execute("SELECT ceilings_json FROM runs").fetchall() in ([(None,)], [("null",)])
    conn.close()


@pytest.mark.parametrize(
    "stored",
    [
        {**GOOD, "copy_bytes_per_s": "fast"},
        {**GOOD, "matmul_flops": {"float32": "1e9"}},
        [1, 2],
        "not json {",
    ],
    ids=["string bandwidth", "string rate", "a list", "not JSON"],
)
def test_a_report_survives_an_odd_stored_ceilings_value(store, tmp_path, stored):
    """A store written before the cache was validated: the report is written, says which run's
    ceilings it ignored, and the store is not changed."""
    conn = sqlite3.connect(store)
    value = stored if isinstance(stored, str) else json.dumps(stored)
    conn.execute("UPDATE runs SET ceilings_json = ?", (value,))
    conn.commit()
    conn.close()
    before = store.read_bytes()
    result = hyperf("report", "--db", store, "-o", tmp_path / "r" / "r.html")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "run 1's stored ceilings are ignored" in result.output
    assert (tmp_path / "r" / "r.html").exists()
    assert store.read_bytes() == before


# --- integers past SQLite's and C's range ------------------------------------------------------

HUGE = "99999999999999999999"
PAST_SQLITE = str(2**63)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["export", HUGE], "RUN"),
        (["report", HUGE, "-o", "{tmp}/r.html"], "RUN"),
        (["crossover", "--resume", PAST_SQLITE], "--resume"),
        (["sweep", "{spec}", "--resume", PAST_SQLITE], "--resume"),
        (["predict", "--seq-len", str(2**40), "--batch", str(2**40)], "--batch"),
        (["predict", "--seq-len", str(2**40)], "--seq-len"),
        (["predict", "--d-model", HUGE], "--d-model"),
        (["predict", "--heads", HUGE], "--heads"),
        (["predict", "--depth", HUGE], "--depth"),
        (["predict", "--order", HUGE], "--order"),
        (["profile", "--op", "hyena:fft", "--wait", HUGE], "--wait"),
        (["profile", "--op", "hyena:fft", "--active", HUGE], "--active"),
        (["profile", "--op", "hyena:fft", "--seq-len", HUGE], "--seq-len"),
        (["crossover", "hyena:fft", "attention:naive", "--repeats", HUGE], "repeats"),
        (["crossover", "hyena:fft", "attention:naive", "--lmin", HUGE], "lmin"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_huge_integer_is_refused_with_its_range(made, store, tmp_path, args, option):
    files = files_of(tmp_path)
    args = [a.format(tmp=tmp_path, spec=made[1]) for a in args]
    needs_db = args[0] in ("export", "report", "crossover", "sweep")
    result = hyperf(*args, *(["--db", store] if needs_db else []))
    refused(result, option)
    kept(tmp_path, files)


@pytest.mark.parametrize(
    "change",
    [
        "repeats: 1}",  # the baseline, below with a huge value
        "retries: 0, timeout_s: 1.0e+300}",
        "retries: 0, seed: 1180591620717411303424}",
        "retries: 0, min_samples: 99999999999999999999}",
        "retries: 0, device_steps: 99999999999999999999}",
    ],
    ids=["repeats", "timeout_s", "seed", "min_samples", "device_steps"],
)
def test_a_huge_number_in_a_spec_is_refused(tmp_path, change):
    text = textwrap.dedent(SPEC).replace("repeats: 1", f"repeats: {HUGE}")
    if change != "repeats: 1}":
        text = textwrap.dedent(SPEC).replace("retries: 0}", change)
    (tmp_path / "s.yaml").write_text(text)
    key = change.split(",")[-1].split(":")[0].strip(" }")
    refused(hyperf("sweep", tmp_path / "s.yaml", "--dry-run"), "s.yaml", key)


# --- special files -----------------------------------------------------------------------------


def fifo(tmp_path: Path, name: str = "pipe") -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


FIFO_COMMANDS = [
    ["runs", "--db", "pipe"],
    ["export", "1", "--db", "pipe"],
    ["report", "--db", "pipe", "-o", "r.html"],
    ["bench", "history", "--db", "pipe"],
    ["sweep", "tiny.yaml", "--db", "pipe", "--quiet"],
    ["export", "1", "--db", "v.db", "-o", "pipe"],
    ["export", "1", "--db", "v.db", "--format", "parquet", "-o", "pipe"],
    ["report", "--db", "v.db", "-o", "pipe"],
    ["sweep", "pipe", "--db", "s.db", "--dry-run"],
    ["sweep", "pipe", "--db", "s.db"],
    ["predict", "--spec", "pipe"],
    ["profile", "--point", "x", "--db", "pipe"],
]


def test_a_fifo_is_refused_at_once(made, store, tmp_path):
    """A FIFO as the store, an output or a spec: refused before anything opens it. And a FIFO
    as the calibration cache: named and ignored, the dry run goes on."""
    shutil.copy(made[1], tmp_path / "tiny.yaml")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "cache").mkdir()
    os.mkfifo(tmp_path / "cache" / "ceilings.json")
    before = files_of(tmp_path)
    dry_run = ["sweep", "tiny.yaml", "--dry-run", "--db", "n.db"]
    results = run_batch([*FIFO_COMMANDS, dry_run], tmp_path, {"HYPERF_CACHE_DIR": "cache"})
    assert [r["args"] for r in results] == [*FIFO_COMMANDS, dry_run]
    for result in results[:-1]:
        output = result["output"]
        assert result["code"] == 2 and "Traceback" not in output, result
        assert output.startswith("error: ") and "pipe" in output and "FIFO" in output, result
        assert "regular file" in output, result
    dry = results[-1]
    assert dry["code"] == 0 and "Traceback" not in dry["output"], dry
    assert "ceilings.json: is a FIFO" in dry["output"] and "ignored" in dry["output"], dry
    kept(tmp_path, before)
    assert (tmp_path / "pipe").is_fifo() and (tmp_path / "cache" / "ceilings.json").is_fifo()


def test_a_socket_and_a_device_are_refused(store, tmp_path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    try:
        refused(hyperf("runs", "--db", tmp_path / "sock"), "sock", "a socket")
    finally:
        server.close()
    before = store.read_bytes()
    refused(hyperf("export", "1", "--db", store, "-o", "/dev/null"), "/dev/null", "device")
    assert store.read_bytes() == before


# --- an output that is also an input -----------------------------------------------------------


def test_predict_never_writes_over_its_spec(tmp_path):
    spec = Path(__file__).resolve().parents[1] / "sweeps" / "paper_fig4_3.yaml"
    shutil.copy(spec, tmp_path / "README.md")
    before = files_of(tmp_path)
    result = hyperf("predict", "--spec", tmp_path / "README.md", "-o", tmp_path)
    refused(result, "README.md", "--spec", "input")
    kept(tmp_path, before)


def test_profile_never_writes_over_its_store(store, tmp_path):
    """--point's store named like one of the profile's files, in its output folder."""
    conn = sqlite3.connect(store)
    point_id = conn.execute("SELECT point_id FROM points").fetchone()[0]
    conn.close()
    folder = tmp_path / "out"
    folder.mkdir()
    db = folder / "ops.csv"
    shutil.copy(store, db)
    before = files_of(tmp_path)
    refused(hyperf("profile", "--point", point_id, "--db", db, "-o", folder), "ops.csv", "store")
    kept(tmp_path, before)


def test_a_sweep_never_writes_its_store_over_its_spec(made, tmp_path):
    spec = tmp_path / "tiny.yaml"
    shutil.copy(made[1], spec)
    before = spec.read_bytes()
    refused(hyperf("sweep", spec, "--db", spec, "--quiet"), "tiny.yaml", "--db")
    assert spec.read_bytes() == before


# --- a spec that says something twice ----------------------------------------------------------


def test_every_key_given_twice_is_reported_with_the_other_problems(tmp_path):
    text = textwrap.dedent(SPEC).replace(
        "measure_memory: false", "measure_memory: false\nops: [hyena:fft]\nopps: 1"
    )
    text = text.replace("seconds: 0.02,", "seconds: 0.02, seconds: 5,")
    (tmp_path / "s.yaml").write_text(text)
    before = files_of(tmp_path)
    for flag in ([], ["--dry-run"]):
        result = hyperf("sweep", tmp_path / "s.yaml", "--db", tmp_path / "s.db", *flag)
        refused(result, "ops: given twice (lines 4 and 8)", "budget.seconds: given twice", "opps")
    kept(tmp_path, before)


def test_the_same_value_under_two_mappings_is_not_a_duplicate(tmp_path):
    text = textwrap.dedent(SPEC) + "points:\n  - {op: hyena:fft, seq_len: 32, d_model: 16}\n"
    (tmp_path / "s.yaml").write_text(text)
    result = hyperf("sweep", tmp_path / "s.yaml", "--dry-run")
    assert result.exit_code == 0, result.output


# --- profile --heads ---------------------------------------------------------------------------


def test_profile_heads_is_used_and_checked(tmp_path):
    common = ["--op", "attention:sdpa-math", "--d-model", "16", "--seq-len", "32"]
    steps: list[str] = []  # the default schedule: a first profile with one step can be empty
    refused(hyperf("profile", *common, "--heads", "3", "-o", tmp_path / "p"), "--heads")
    assert not (tmp_path / "p").exists()
    result = hyperf("profile", *common, "--heads", "4", *steps, "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "breakdown.csv").stat().st_size > 0


# --- a worker that stalls while it starts ------------------------------------------------------

STALLING_PLUGIN = """
import os, time
if os.environ.get("HYPERF_TEST_DRIVER_PID") != str(os.getpid()):
    time.sleep(120)  # a worker's start-up that never finishes
"""


def test_a_stalled_worker_start_up_is_given_up_after_the_spec_allows(tmp_path, monkeypatch):
    """timeout_s: 0.5 with the start-up floor at 2 s: the worker is given up after ~2 s, not
    after a fixed 300 s; with timeout_s above the floor, the spec's timeout is the limit."""
    assert executors.startup_timeout_s(0.5) == executors.STARTUP_FLOOR_S
    assert executors.startup_timeout_s(900.0) == 900.0
    (tmp_path / "stall_plugin.py").write_text(STALLING_PLUGIN)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(
        textwrap.dedent(SPEC).replace("retries: 0}", "retries: 0, timeout_s: 0.5}")
    )
    spec, _ = load_spec(spec_path)
    point = build_plan(spec, "cpu")[0]
    monkeypatch.setattr(executors, "STARTUP_FLOOR_S", 2.0)
    monkeypatch.setenv("HYPERF_TEST_DRIVER_PID", str(os.getpid()))
    monkeypatch.setenv("HYPERF_PLUGINS", "stall_plugin")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    worker = executors.LocalExecutor(measure_memory=False, count_flops=False)
    started = time.monotonic()
    try:
        repeat, _, _ = worker.run_one(point, 0)
    finally:
        worker.close()
    assert time.monotonic() - started < 30
    assert repeat.status == "crashed" and "not ready within 2 s" in repeat.error, repeat
