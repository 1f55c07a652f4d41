"""Benchmark history: ``hyperf bench import`` and ``hyperf bench history`` on generated
pytest-benchmark files, and the report's Benchmark history section.

The files are drawn fresh each run (no seed): 0.2 % noise between runs and 0.5 % within,
against a 20 % step and a 5 % smallest step, so a wrong answer needs a commit ~10σ off
(see tests/analysis/test_steps.py for the argument)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hyperf.bench.history import history_command, import_command
from hyperf.report.html import write_report
from hyperf.store import Store

rng = np.random.default_rng()
COMMITS = [f"{i}{'abcdef0123'[i]}" * 20 for i in range(5)]  # 40 hex-ish characters each
STEP_AT = 2  # the third commit is 20 % slower, and every one after it


def entry(name: str, level: float, save_data: bool = True) -> dict:
    """One benchmark as pytest-benchmark writes it (seconds per call)."""
    data = level * rng.lognormal(0.0, 0.002) * rng.lognormal(0.0, 0.005, 21)
    stats = {
        "min": float(data.min()),
        "max": float(data.max()),
        "mean": float(data.mean()),
        "stddev": float(data.std(ddof=1)),
        "rounds": len(data),
        "median": float(np.median(data)),
        "iqr": float(np.subtract(*np.percentile(data, [75, 25]))),
        "q1": float(np.percentile(data, 25)),
        "q3": float(np.percentile(data, 75)),
        "iqr_outliers": 0,
        "stddev_outliers": 0,
        "outliers": "0;0",
        "ld15iqr": float(data.min()),
        "hd15iqr": float(data.max()),
        "ops": float(1 / data.mean()),
        "total": float(data.sum()),
        "iterations": 1,
    }
    if save_data:
        stats["data"] = data.tolist()
    return {
        "group": "longconv",
        "name": name,
        "fullname": f"tests/benchmarks/test_ops.py::{name}",
        "params": {"seq_len": 1024},
        "param": "1024",
        "extra_info": {"device": "cpu"},
        "options": {"min_rounds": 5, "timer": "perf_counter", "warmup": False},
        "stats": stats,
    }


def write_run(path: Path, index: int, commit: str | None, when: str) -> Path:
    slow = 1.2 if index >= STEP_AT else 1.0
    document = {
        "machine_info": {"node": "ci", "hyperf": {"device": "cpu", "torch": "2.5"}},
        "commit_info": {
            "id": commit,
            "time": f"2025-03-0{index + 1}T09:00:00+01:00",
            "author_time": f"2025-03-0{index + 1}T08:00:00+01:00",
            "dirty": False,
            "project": "hyperf",
            "branch": "main",
        },
        "benchmarks": [
            entry("test_fft[1024]", 1.5e-3 * slow),
            entry("test_sdpa[1024]", 40e-6),
            entry("test_summary_only", 2.0, save_data=False),
        ],
        "datetime": when,
        "version": "5.2.3",
    }
    if commit is None:
        del document["commit_info"]
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def history_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    files = [
        write_run(tmp / f"run{i}.json", i, c, f"2025-03-0{i + 1}T10:00:00.5+00:00")
        for i, c in enumerate(COMMITS)
    ]
    rerun = write_run(tmp / "rerun.json", 4, COMMITS[4], "2025-03-05T11:00:00+00:00")
    db = tmp / "h.db"
    result = CliRunner().invoke(import_command, [*map(str, files), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "imported 15 benchmark results from 5 file(s)" in result.output
    result = CliRunner().invoke(import_command, [str(files[0]), str(rerun), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "imported 3 " in result.output and "skipped 3 already stored" in result.output
    return db, files, tmp


def test_importing_again_adds_nothing(history_store):
    db, files, _ = history_store
    with Store(db) as store:
        before = store.benchmark_history()
    result = CliRunner().invoke(import_command, [*map(str, files), "--db", str(db)])
    assert result.exit_code == 0 and "imported 0 " in result.output
    with Store(db) as store:
        after = store.benchmark_history()
        runs = store.conn.execute("SELECT COUNT(*) FROM bench_results").fetchone()[0]
    assert len(after) == len(before) == 18 and runs == 6
    assert after["data_json"].notna().sum() == 12  # the summary-only benchmark has no samples


def test_history_table_marks_the_step_at_its_commit(history_store):
    db, _, _ = history_store
    result = CliRunner().invoke(history_command, ["--db", str(db)])
    assert result.exit_code == 0, result.output
    marked = [line for line in result.output.splitlines() if "▲" in line or "▼" in line]
    assert len(marked) == 1 and COMMITS[STEP_AT][:10] in marked[0]
    assert re.search(r"▲ \+(19|20|21)\.\d%", marked[0])
    assert "3 benchmark(s), 1 step(s)" in result.output


def test_history_json(history_store):
    db, _, _ = history_store
    result = CliRunner().invoke(history_command, ["--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    benchmarks = {b["name"]: b for b in json.loads(result.stdout)}
    assert set(benchmarks) == {"test_fft[1024]", "test_sdpa[1024]", "test_summary_only"}
    fft = benchmarks["test_fft[1024]"]
    assert [p["commit"] for p in fft["points"]] == COMMITS  # oldest first; the rerun pooled
    assert [p["runs"] for p in fft["points"]] == [1, 1, 1, 1, 2]
    assert all(p["ci_low_s"] < p["median_s"] < p["ci_high_s"] for p in fft["points"])
    [step] = fft["steps"]
    assert step["position"] == STEP_AT and step["commit"] == COMMITS[STEP_AT]
    assert step["change"] == pytest.approx(0.2, abs=0.03)
    assert fft["points"][STEP_AT]["change"] == step["change"]
    assert benchmarks["test_sdpa[1024]"]["steps"] == []
    summary_only = benchmarks["test_summary_only"]["points"]
    assert all(p["ci_low_s"] is None and p["median_s"] > 0 for p in summary_only)
    one = CliRunner().invoke(
        history_command, ["--db", str(db), "--json", "--benchmark", "test_sdpa[1024]"]
    )
    assert [b["name"] for b in json.loads(one.stdout)] == ["test_sdpa[1024]"]


def test_unknown_benchmark_and_missing_store_are_clear_errors(history_store, tmp_path):
    db, _, _ = history_store
    result = CliRunner().invoke(history_command, ["--db", str(db), "--benchmark", "nope"])
    assert result.exit_code == 2 and "no benchmark 'nope'" in result.output
    assert "test_fft[1024]" in result.output
    result = CliRunner().invoke(history_command, ["--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "missing.db does not exist" in result.output


def test_an_empty_store_says_so(tmp_path):
    db = tmp_path / "empty.db"
    Store(db, write=True).close()
    result = CliRunner().invoke(history_command, ["--db", str(db)])
    assert result.exit_code == 0 and "holds no benchmark history" in result.output
    result = CliRunner().invoke(history_command, ["--db", str(db), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("{not json", "not JSON (Expecting property name"),
        ('{"benchmarks": {}}', "no 'benchmarks' list"),
        ('{"benchmarks": [{"name": "x", "stats": {}}]}', "benchmarks[0] ('x'): stats.median"),
        (
            '{"benchmarks": [{"name": "x", "stats": {"median": 1, "data": []}}]}',
            "benchmarks[0] ('x'): stats.data must be",
        ),
        ('{"benchmarks": [], "datetime": "yesterday"}', "datetime is not an ISO 8601 time"),
    ],
)
def test_bad_files_exit_2_naming_the_file_and_store_nothing(tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    good = write_run(tmp_path / "good.json", 0, COMMITS[0], "2025-03-01T10:00:00+00:00")
    db = tmp_path / "h.db"
    result = CliRunner().invoke(import_command, [str(good), str(bad), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {bad}: ") and expected in result.output
    assert "Traceback" not in result.output and not db.exists()


def test_files_without_commit_info_are_stored_as_unknown_and_never_pooled(tmp_path):
    paths = [
        write_run(tmp_path / f"r{i}.json", i, None, f"2025-03-0{i + 1}T10:00:00+00:00")
        for i in range(2)
    ]
    db = tmp_path / "h.db"
    result = CliRunner().invoke(import_command, [*map(str, paths), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        assert set(store.benchmark_history()["commit_id"]) == {"unknown"}
    result = CliRunner().invoke(history_command, ["--db", str(db), "--json"])
    points = json.loads(result.stdout)[0]["points"]
    assert [(p["label"], p["runs"]) for p in points] == [("unknown", 1), ("unknown", 1)]


def test_report_has_a_benchmark_history_section(history_store):
    db, _, tmp = history_store
    out = tmp / "report" / "r.html"
    report = write_report(db, None, out)  # the store holds no sweep runs
    html = out.read_text()
    assert "Benchmark history" in html and "Detected steps" in html
    steps = html[html.index('id="benchmark-steps-table"') : html.index("Latest time per benchmark")]
    assert COMMITS[STEP_AT][:10] in steps and "test_fft[1024]" in steps
    assert re.search(r"\+(19|20|21)\.\d%", steps)
    assert html.count("data:image/png;base64,") == 1  # the history figure; no sweep figures
    assert report.headline[0].startswith("This store holds no sweep runs")
    assert "1 step(s)" in report.headline[1]


def test_a_report_without_history_has_no_such_section(tmp_path):
    db = tmp_path / "r.db"
    with Store(db, write=True) as store:
        run = store.create_run("empty", "", "h", "cpu", {}, None)
    write_report(db, [run], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "Benchmark history" not in html and "benchmark-history" not in html
