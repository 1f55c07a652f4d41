"""``hyperf bench compare``: the regression gate, run through the CLI on pytest-benchmark files.

The files are generated afresh each run from lognormal samples with a seed from os.urandom
(printed on failure), so the tests meet real noise. Every statistical claim below is sized so
that a false verdict is astronomically unlikely; each test says why. The log of a sample
median of n lognormal(σ) draws has standard error ≈ 1.2533·σ/√n, and a ratio of two such
medians ≈ 1.2533·σ·√(2/n) — "SE" below.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hyperf.cli import main

SEED = int.from_bytes(os.urandom(8), "little")
RNG = np.random.default_rng(SEED)

MACHINE_INFO = {
    "node": "runner-7",
    "processor": "x86_64",
    "machine": "x86_64",
    "python_compiler": "GCC 12.2.0",
    "python_implementation": "CPython",
    "python_implementation_version": "3.11.7",
    "python_version": "3.11.7",
    "python_build": ["main", "May  9 2026 07:35:25"],
    "release": "6.1.0",
    "system": "Linux",
    "cpu": {"brand_raw": "AMD EPYC 9554", "count": 16, "arch": "X86_64", "bits": 64},
    "hyperf": {
        "device": "cuda",
        "gpu_name": "NVIDIA H100 80GB HBM3",
        "gpu_capability": "9.0",
        "torch": "2.5.1",
        "cuda": "12.4",
        "threads": 16,
    },
}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run every command in an empty directory: no pyproject.toml around unless a test
    writes one (the repository's own must not decide these results)."""
    monkeypatch.chdir(tmp_path)


def samples(median: float, sigma: float, n: int) -> list[float]:
    """n lognormal timing samples (seconds) around ``median``."""
    return RNG.lognormal(np.log(median), sigma, n).tolist()


def entry(name: str, data: list[float], group: str | None = None, **params: Any) -> dict:
    """One benchmark as pytest-benchmark 5 writes it with --benchmark-save-data."""
    q1, median, q3 = statistics.quantiles(data, n=4)
    mean = statistics.fmean(data)
    param_id = "-".join(str(v) for v in params.values())
    full = f"{name}[{param_id}]" if params else name
    return {
        "group": group,
        "name": full,
        "fullname": f"benchmarks/test_ops.py::{full}",
        "params": params or None,
        "param": param_id or None,
        "extra_info": {},
        "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 5},
        "stats": {
            "min": min(data),
            "max": max(data),
            "mean": mean,
            "stddev": statistics.stdev(data) if len(data) > 1 else 0,
            "rounds": len(data),
            "median": median,
            "iqr": q3 - q1,
            "q1": q1,
            "q3": q3,
            "iqr_outliers": 0,
            "stddev_outliers": 0,
            "outliers": "0;0",
            "ld15iqr": min(data),
            "hd15iqr": max(data),
            "ops": 1 / mean,
            "total": sum(data),
            "data": data,
            "iterations": 1,
        },
    }


def processes(
    name: str,
    median: float,
    sigma: float,
    n: int,
    drift: float = 0.02,
    count: int = 5,
    group: str | None = None,
    **params: Any,
) -> dict:
    """One benchmark of a merged file (``hyperf bench merge``): ``count`` processes of ``n``
    lognormal(σ) samples each, every process's own median drawn lognormal(``drift``) around
    ``median``, as separate processes on a shared machine drift."""
    medians = RNG.lognormal(np.log(median), drift, count)
    data = [x for m in medians for x in samples(float(m), sigma, n)]
    benchmark = entry(name, data, group, **params)
    benchmark["extra_info"]["hyperf_process_rounds"] = [n] * count
    return benchmark


def write_results(path: Path, benchmarks: list[dict], machine_info: dict | None = None) -> Path:
    """A pytest-benchmark JSON file holding ``benchmarks``."""
    content = {
        "machine_info": machine_info or MACHINE_INFO,
        "commit_info": {"id": "0" * 40, "dirty": False, "project": "hyperf", "branch": "main"},
        "benchmarks": benchmarks,
        "datetime": "2026-05-09T07:35:25.000000+00:00",
        "version": "5.3.1",
    }
    path.write_text(json.dumps(content))
    return path


def pair(
    tmp_path: Path, base: list[dict], new: list[dict], new_machine: dict | None = None
) -> list[Path]:
    """BASE and NEW files; NEW on ``new_machine`` if given, else on the same machine."""
    return [
        write_results(tmp_path / "base.json", base),
        write_results(tmp_path / "new.json", new, new_machine),
    ]


def compare(*args: Any):
    return CliRunner().invoke(main, ["bench", "compare", *(str(a) for a in args)])


def compare_json(*args: Any) -> tuple[int, dict]:
    """(exit code, the parsed --json report); stdout must be the JSON and nothing else."""
    result = compare(*args, "--json")
    assert result.exit_code in (0, 1), (SEED, result.output)
    return result.exit_code, json.loads(result.stdout)


def verdicts(report: dict) -> dict[str, str]:
    return {b["name"]: b["verdict"] for b in report["benchmarks"]}


def test_same_distribution_is_unchanged(tmp_path):
    # σ = 0.05, n = 400: SE of the log ratio ≈ 0.0044, so the 99 % CI is ±0.012 wide; it
    # leaves [1/1.1, 1.1] (±0.095) only if the estimate is 7+ SE off: p < 1e-11 per benchmark.
    medians = {"test_fft": 2e-6, "test_attention": 1e-3, "test_model": 0.05}
    base = [entry(name, samples(m, 0.05, 400)) for name, m in medians.items()]
    new = [entry(name, samples(m, 0.05, 400)) for name, m in medians.items()]
    files = pair(tmp_path, base, new)
    code, report = compare_json(*files)
    assert code == 0
    assert verdicts(report) == dict.fromkeys(medians, "unchanged"), SEED
    assert report["machine_warnings"] == [] and report["missing"] == report["new"] == []
    assert report["summary"] == {"unchanged": 3} and report["regression"] is False

    table = compare(*files)
    assert table.exit_code == 0, table.output
    assert "3 compared: 3 unchanged" in table.output and "no regression" in table.output


def test_twenty_percent_slower_is_a_regression(tmp_path):
    # True ratio 1.2; five processes a side drifting by 2 % (σ = 0.05, n = 80 within each):
    # a process median's log has SD ≈ sqrt(0.02² + (1.25·0.05)²/80) ≈ 0.021, the difference of
    # two 5-process means SE ≈ 0.013. The estimate is within 1.2 × e^±0.08 unless 6 SE off,
    # Welch's t is ≈ 14 (p ≪ 0.01), and the 99 % CI's lower end clears 1.1 unless ~3 SE off
    # the other way at once.
    base = [processes("test_hyena", 1e-3, 0.05, 80, group="hyena", seq_len=4096)]
    new = [processes("test_hyena", 1.2e-3, 0.05, 80, group="hyena", seq_len=4096)]
    files = pair(tmp_path, base, new)
    code, report = compare_json(*files)
    assert code == 1
    (result,) = report["benchmarks"]
    assert result["verdict"] == "regression", (SEED, result)
    assert result["method"] == "processes" and result["base_processes"] == 5
    assert result["params"] == {"seq_len": 4096} and result["group"] == "hyena"
    assert 1.1 < result["ratio"] < 1.3, (SEED, result)
    assert 1 < result["ci_low"] <= result["ratio"] <= result["ci_high"] < 1.5, (SEED, result)
    assert result["p_value"] < 0.01

    table = compare(*files)
    assert table.exit_code == 1
    assert "regression" in table.output and "REGRESSION" in table.output
    assert "test_hyena[4096]" in table.output and "seq_len=4096" in table.output


def test_one_process_a_side_is_never_a_regression_on_its_own(tmp_path):
    # The same 1.2× slowdown in one process a side, 400 samples each: within the run it is
    # unmistakable (SE ≈ 0.0044 in log), but two processes of the same code drift by more
    # than that, so without history the gate says inconclusive, exit 0, and what would decide.
    base = [entry("test_hyena", samples(1e-3, 0.05, 400))]
    new = [entry("test_hyena", samples(1.2e-3, 0.05, 400))]
    files = pair(tmp_path, base, new)
    code, report = compare_json(*files)
    assert code == 0
    (result,) = report["benchmarks"]
    assert result["verdict"] == "inconclusive" and result["method"] == "within-run"
    assert "bench ab" in result["note"] and "--db" in result["note"]
    table = compare(*files)
    assert table.exit_code == 0 and "within-run evidence only" in table.output


def test_the_interval_covers_the_true_ratio(tmp_path):
    # 50 independent benchmarks, each truly 1.2× slower, each with a 99 % CI. A CI that is
    # honest misses 1.2 in about 1 % of them (0.7 % measured here); 11 or more misses out of 50
    # then has probability below 4e-12. A CI a third as wide as it should be would miss ~40 %.
    names = [f"test_op_{i}" for i in range(50)]
    base = [entry(name, samples(1e-4, 0.3, 300)) for name in names]
    new = [entry(name, samples(1.2e-4, 0.3, 300)) for name in names]
    code, report = compare_json(*pair(tmp_path, base, new))
    assert code == 0  # one process a side: inconclusive, not a regression
    assert set(verdicts(report).values()) == {"inconclusive"}
    misses = [b for b in report["benchmarks"] if not b["ci_low"] <= 1.2 <= b["ci_high"]]
    assert len(misses) <= 10, (SEED, misses)


def test_noisy_but_unchanged(tmp_path):
    # Very noisy samples (σ = 0.6: the middle half spans a factor 2.2) with the same median.
    # n = 20,000: SE ≈ 0.0075, so a false ratio beyond 1.1 needs a 12.7 SE error (p < 1e-36)
    # and a CI outside [1/1.1, 1.1] a 10 SE one (p < 1e-22).
    base = [entry("test_noisy", samples(5e-4, 0.6, 20_000))]
    new = [entry("test_noisy", samples(5e-4, 0.6, 20_000))]
    code, report = compare_json(*pair(tmp_path, base, new))
    assert code == 0
    assert verdicts(report) == {"test_noisy": "unchanged"}, (SEED, report["benchmarks"])


def test_few_noisy_samples_are_inconclusive(tmp_path):
    # A true 20 % slowdown seen through σ = 0.8 noise with 20 samples a side. At alpha = 1e-9
    # no outcome is significant (the smallest possible two-sided p at 20 vs 20 is ≈ 6e-8), so
    # it cannot be called a regression; nor unchanged, which would need the CI inside ±10 %:
    # about 12 of 20 draws in a 0.19-wide window of log time on each side (p < 1e-7 each).
    base = [entry("test_noisy", samples(1e-3, 0.8, 20))]
    new = [entry("test_noisy", samples(1.2e-3, 0.8, 20))]
    files = pair(tmp_path, base, new)
    code, report = compare_json(*files, "--alpha", "1e-9")
    assert code == 0
    assert verdicts(report) == {"test_noisy": "inconclusive"}, (SEED, report["benchmarks"])
    assert report["alpha"] == 1e-9


def test_faster_is_an_improvement(tmp_path):
    # True ratio 0.8 (1.25× faster), five processes a side as above: beyond 1/1.1 by ~7 SE.
    base = [processes("test_fft", 1e-3, 0.05, 80)]
    new = [processes("test_fft", 0.8e-3, 0.05, 80)]
    files = pair(tmp_path, base, new)
    code, report = compare_json(*files)
    assert code == 0
    assert verdicts(report) == {"test_fft": "improvement"}, (SEED, report["benchmarks"])
    assert report["benchmarks"][0]["ci_high"] < 1
    table = compare(*files)
    assert table.exit_code == 0 and "improvement" in table.output


def test_too_few_samples_is_never_a_regression(tmp_path):
    base = [entry("test_once", samples(1e-3, 0.01, 4))]
    new = [entry("test_once", samples(3e-3, 0.01, 4))]
    code, report = compare_json(*pair(tmp_path, base, new))
    assert code == 0
    (result,) = report["benchmarks"]
    assert result["verdict"] == "too few samples"
    assert result["p_value"] is None and result["ci_low"] is None and result["ratio"] > 2


def test_missing_and_new_benchmarks_are_listed(tmp_path):
    base = [entry(name, samples(1e-3, 0.05, 100)) for name in ("test_kept", "test_dropped")]
    new = [entry(name, samples(1e-3, 0.05, 100)) for name in ("test_kept", "test_added")]
    files = pair(tmp_path, base, new)
    code, report = compare_json(*files)
    assert code == 0
    assert [b["name"] for b in report["benchmarks"]] == ["test_kept"]
    assert report["missing"] == ["benchmarks/test_ops.py::test_dropped"]
    assert report["new"] == ["benchmarks/test_ops.py::test_added"]
    table = compare(*files)
    assert table.exit_code == 0
    assert "missing from NEW (1):" in table.output and "test_dropped" in table.output
    assert "new in NEW (1):" in table.output and "test_added" in table.output


def test_parameters_tell_benchmarks_apart(tmp_path):
    # The same test at two sequence lengths: only the long one got slower (2×, ~50 SE).
    base = [processes("test_op", 1e-3, 0.05, 80, seq_len=n) for n in (1024, 8192)]
    new = [
        processes("test_op", 1e-3, 0.05, 80, drift=0.005, seq_len=1024),
        processes("test_op", 2e-3, 0.05, 80, seq_len=8192),
    ]
    code, report = compare_json(*pair(tmp_path, base, new))
    assert code == 1
    assert verdicts(report) == {"test_op[1024]": "unchanged", "test_op[8192]": "regression"}


def test_different_machines_are_warned_about(tmp_path):
    other = json.loads(json.dumps(MACHINE_INFO))
    other["cpu"]["brand_raw"] = "Intel Xeon Platinum 8480+"
    other["hyperf"]["gpu_name"] = "NVIDIA A100-SXM4-80GB"
    other["hyperf"]["gpu_capability"] = "8.0"
    other["node"] = "another-host"  # not a speed-deciding key: no warning for it
    base = [entry("test_fft", samples(1e-3, 0.05, 100))]
    new = [entry("test_fft", samples(1e-3, 0.05, 100))]
    files = pair(tmp_path, base, new, new_machine=other)
    code, report = compare_json(*files)
    assert code == 0
    warnings = report["machine_warnings"]
    assert len(warnings) == 3, warnings
    assert any("cpu.brand_raw" in w and "Intel Xeon" in w for w in warnings)
    assert any("hyperf.gpu_name" in w and "A100" in w and "H100" in w for w in warnings)
    assert any("hyperf.gpu_capability" in w for w in warnings)
    table = compare(*files)
    assert table.exit_code == 0
    assert table.output.count("warning: the machines differ") == 3


GROUP_THRESHOLDS = {
    "toml": 'default = 0.05\nalpha = 0.01\n\n[groups]\n"tight*" = 0.01\nloose = 0.10\n',
    "yaml": "default: 0.05\nalpha: 0.01\ngroups:\n  tight*: 0.01\n  loose: 0.10\n",
}


@pytest.mark.parametrize("fmt", sorted(GROUP_THRESHOLDS))
def test_per_group_thresholds(tmp_path, fmt):
    # Both groups 3 % slower, five processes a side drifting by 0.2 % (σ = 0.02, n = 200
    # within each): a process median's log has SD ≈ 0.0029, the difference SE ≈ 0.0018; the
    # estimate is 1.03 ± 0.01 unless 5.5 SE off; that is beyond 1 % (Welch's t ≈ 16) and well
    # within 10 % (the CI reaches 1.1 only if ~35 SE off).
    thresholds = tmp_path / f"thresholds.{fmt}"
    thresholds.write_text(GROUP_THRESHOLDS[fmt])
    groups = ("tight-fft", "loose")
    base = [processes(f"test_{g}", 1e-3, 0.02, 200, 0.002, group=g) for g in groups]
    new = [processes(f"test_{g}", 1.03e-3, 0.02, 200, 0.002, group=g) for g in groups]
    code, report = compare_json(*pair(tmp_path, base, new), "--thresholds", thresholds)
    assert code == 1
    assert verdicts(report) == {"test_tight-fft": "regression", "test_loose": "unchanged"}, SEED
    by_name = {b["name"]: b for b in report["benchmarks"]}
    assert by_name["test_tight-fft"]["threshold"] == 0.01
    assert by_name["test_tight-fft"]["threshold_pattern"] == "tight*"
    assert by_name["test_loose"]["threshold"] == 0.10
    assert report["thresholds_from"] == str(thresholds)


def test_thresholds_from_pyproject(tmp_path, monkeypatch):
    # 3 % slower as above: a regression at 1 %, unchanged at 10 % or more.
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "somebody-else"

            [tool.hyperf.bench]
            default = 0.01

            [tool.hyperf.bench.groups]
            "test_loose_*" = 0.2   # no pytest-benchmark group: matched by name
            """
        )
    )
    names = ("test_tight", "test_loose_attention")
    base = [processes(name, 1e-3, 0.02, 200, 0.002) for name in names]
    new = [processes(name, 1.03e-3, 0.02, 200, 0.002) for name in names]
    files = pair(tmp_path, base, new)

    code, report = compare_json(*files)
    assert code == 1
    assert verdicts(report) == {"test_tight": "regression", "test_loose_attention": "unchanged"}
    assert "pyproject.toml [tool.hyperf.bench]" in report["thresholds_from"]

    code, report = compare_json(*files, "--threshold", "0.1")  # overrides the default only
    assert code == 0
    assert [b["threshold"] for b in report["benchmarks"]] == [0.1, 0.2]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no pyproject.toml here: the built-in 10 %
    code, report = compare_json(*files)
    assert code == 0
    assert report["thresholds_from"] == "built-in defaults"


def test_json_is_all_that_is_printed(tmp_path):
    other = {**MACHINE_INFO, "python_version": "3.12.1"}
    base = [processes("test_a", 1e-3, 0.05, 40), entry("test_gone", samples(1, 0.05, 9))]
    new = [processes("test_a", 2e-3, 0.05, 40)]
    result = compare(*pair(tmp_path, base, new, new_machine=other), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == {
        "base_file",
        "new_file",
        "alpha",
        "confidence",
        "thresholds_from",
        "benchmarks",
        "missing",
        "new",
        "machine_warnings",
        "history",
        "control",
        "summary",
        "regression",
    }
    assert report["summary"] == {"regression": 1} and report["regression"] is True
    assert report["missing"] == ["benchmarks/test_ops.py::test_gone"]
    assert report["machine_warnings"] == ["python_version: '3.11.7' in BASE, '3.12.1' in NEW"]
    (result,) = report["benchmarks"]
    assert result["base_rounds"] == result["new_rounds"] == 200
    assert result["base_processes"] == result["new_processes"] == 5
    assert result["new_median_s"] > result["base_median_s"] > 0


def good_file(path: Path) -> Path:
    return write_results(path, [entry("test_a", samples(1e-3, 0.05, 20))])


def without_data(path: Path) -> Path:
    benchmark = entry("test_a", samples(1e-3, 0.05, 20))
    del benchmark["stats"]["data"]
    return write_results(path, [benchmark])


def text_file(text: str) -> Any:
    def write(path: Path) -> Path:
        path.write_text(text)
        return path

    return write


def with_sample(value: float) -> Any:
    def write(path: Path) -> Path:
        benchmark = entry("test_a", samples(1e-3, 0.05, 20))
        benchmark["stats"]["data"][3] = value
        return write_results(path, [benchmark])

    return write


BAD_FILES = {
    "missing": (lambda path: path, ["no such file"]),
    "not json": (text_file("{'benchmarks': ["), ["not JSON", "line 1"]),
    "not pytest-benchmark": (
        text_file('{"results": []}'),
        ["not a pytest-benchmark JSON file", "--benchmark-save-data"],
    ),
    "no raw data": (without_data, ["test_a", "stats.data", "--benchmark-save-data"]),
    "negative sample": (with_sample(-1e-3), ["test_a", "stats.data[3]", "> 0"]),
    "nan sample": (with_sample(float("nan")), ["test_a", "stats.data[3]", "finite"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_benchmark_files_are_refused(tmp_path, case):
    make, words = BAD_FILES[case]
    bad = make(tmp_path / "bad.json")
    good = good_file(tmp_path / "good.json")
    for args in ([good, bad], [bad, good]):
        refused(compare(*args), "bad.json", *words)


BAD_THRESHOLDS = {
    "negative default": ("t.toml", "default = -0.1\n", ["t.toml", "default", "≥ 0", "-0.1"]),
    "text threshold": ("t.toml", '[groups]\nfft = "5%"\n', ["t.toml", "groups.fft", "'5%'"]),
    "alpha above 1": ("t.yaml", "alpha: 2\n", ["t.yaml", "alpha", "between 0 and 1"]),
    "unknown key": ("t.toml", "treshold = 0.1\n", ["t.toml", "treshold", "unknown key"]),
    "not toml": ("t.toml", "default = = 1\n", ["t.toml", "not valid TOML"]),
    "pyproject": (
        "pyproject.toml",
        "[tool.hyperf.bench]\nalpha = 0\n",
        ["pyproject.toml", "alpha"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_THRESHOLDS))
def test_bad_thresholds_are_refused(tmp_path, case):
    name, text, words = BAD_THRESHOLDS[case]
    (tmp_path / name).write_text(text)
    files = [good_file(tmp_path / "base.json"), good_file(tmp_path / "new.json")]
    option = [] if name == "pyproject.toml" else ["--thresholds", tmp_path / name]
    refused(compare(*files, *option), *words)


@pytest.mark.parametrize(
    "option, value", [("--alpha", "1.5"), ("--alpha", "nan"), ("--threshold", "-0.2")]
)
def test_bad_options_are_refused(tmp_path, option, value):
    files = [good_file(tmp_path / "base.json"), good_file(tmp_path / "new.json")]
    refused(compare(*files, option, value), option, value)


def test_missing_thresholds_file_is_refused(tmp_path):
    files = [good_file(tmp_path / "base.json"), good_file(tmp_path / "new.json")]
    refused(compare(*files, "--thresholds", "absent.toml"), "absent.toml", "no such file")


def refused(result, *words: Any) -> None:
    """Exit 2 with one error line naming every word; no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    for word in words:
        assert str(word) in result.output, (word, result.output)


REAL_BENCHMARK = """
import os

WORK = int(20_000 * float(os.environ.get("WORK_FACTOR", "1")))


def test_sum(benchmark):
    benchmark(sum, range(WORK))
"""


def run_benchmark(tmp_path: Path, output: str, work_factor: float) -> Path:
    """Run the real benchmark in its own pytest process; its JSON file with raw samples."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",  # the repository's addopts say --benchmark-disable
        "--rootdir",
        str(tmp_path),
        "test_work.py",
        f"--benchmark-json={output}",
        "--benchmark-save-data",
        "--benchmark-min-rounds=50",
        "--benchmark-max-time=0.3",
    ]
    env = {**os.environ, "WORK_FACTOR": str(work_factor)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / output


@pytest.mark.slow
def test_real_pytest_benchmark_runs(tmp_path):
    # Four real pytest processes, ~1.5 s each: the same code twice must pass the gate, six
    # times the work must fail it once history says how far runs move. Separate processes
    # differ for reasons of their own (4–8 % on a quiet machine, hyperf/stats/bootstrap.py),
    # and on a shared 2-core machine under a neighbour's load whole runs of this very
    # benchmark came out 1.4× apart. With one process a side and no history the 6× run is
    # only inconclusive; three stored runs of the same code (spread a few per cent, with the
    # 8 % prior: t ≈ 15 on 3 degrees of freedom) make it a regression. The threshold is 100 %
    # (2×): the same code stays within it, the slowed run stays beyond it.
    (tmp_path / "test_work.py").write_text(REAL_BENCHMARK)
    base = run_benchmark(tmp_path, "base.json", 1)
    again = run_benchmark(tmp_path, "again.json", 1)
    third = run_benchmark(tmp_path, "third.json", 1)
    slower = run_benchmark(tmp_path, "slower.json", 6)

    code, report = compare_json(base, slower, "--threshold", "1.0")
    assert code == 0 and report["benchmarks"][0]["verdict"] == "inconclusive", report

    db = tmp_path / "history.db"
    imported = CliRunner().invoke(
        main, ["bench", "import", str(base), str(again), str(third), "--db", str(db)]
    )
    assert imported.exit_code == 0, imported.output
    code, report = compare_json(base, again, "--threshold", "1.0", "--db", db)
    assert code == 0, report
    assert report["benchmarks"][0]["verdict"] != "regression"
    assert report["machine_warnings"] == []
    # NEW (again) is in the store: it is left out of its own noise, two runs remain (< 3)
    assert report["benchmarks"][0]["method"] == "within-run"

    code, report = compare_json(base, slower, "--threshold", "1.0", "--db", db)
    assert code == 1, report
    (result,) = report["benchmarks"]
    assert result["verdict"] == "regression" and result["ratio"] > 3, result
    assert result["method"] == "history" and result["history_runs"] == 3
    assert "3 run(s) on this machine" in report["history"]


# --- several processes a side (hyperf bench merge) -----------------------------------------


def process_runs(tmp_path: Path, prefix: str, medians: list[float], n: int = 200) -> list[Path]:
    """One file per process, each with a tight sample around its own median, as separate
    pytest runs on a machine whose processes drift."""
    return [
        write_results(tmp_path / f"{prefix}-{i}.json", [entry("test_op", samples(m, 0.02, n))])
        for i, m in enumerate(medians)
    ]


def merge(out: Path, runs: list[Path]):
    return CliRunner().invoke(main, ["bench", "merge", str(out), *map(str, runs)])


def test_drifting_processes_are_no_regression_once_merged(tmp_path):
    """Two runs of the same code whose processes drift by ±15 % (as a shared CPU's do), each
    tight within itself. Compared process against process, the drift looks like a very
    significant change; merged, the processes are the units and no regression is declared.
    Drift medians: base 1.0, 1.15, 0.87; new 1.15, 0.87, 1.0 ms — the same set, so the true
    ratio is 1 and a regression verdict would need the CI to exclude it."""
    base = process_runs(tmp_path, "base", [1.0e-3, 1.15e-3, 0.87e-3])
    new = process_runs(tmp_path, "new", [1.15e-3, 0.87e-3, 1.0e-3])
    single_code, single = compare_json(base[0], new[0])  # 1.0 vs 1.15 ms: 200 samples each
    assert single_code == 0 and verdicts(single) == {"test_op": "inconclusive"}
    assert "regression" in single["benchmarks"][0]["note"]  # what it would have been called
    assert merge(tmp_path / "base.json", base).exit_code == 0
    assert merge(tmp_path / "new.json", new).exit_code == 0
    code, report = compare_json(tmp_path / "base.json", tmp_path / "new.json")
    (row,) = report["benchmarks"]
    assert code == 0 and row["verdict"] != "regression"
    assert row["base_processes"] == row["new_processes"] == 3 and row["base_rounds"] == 600
    assert row["ci_low"] < 1 < row["ci_high"]


def test_a_slowdown_beyond_the_drift_is_a_regression_across_processes(tmp_path):
    """Five processes a side drifting by ~3 %, NEW twice as slow. Welch's t on the log process
    medians: a difference of ln 2 against a spread of ~0.03 is t > 30 (p ≪ 0.01); the 99 %
    two-level interval stays far above 1."""
    drift = [1.0, 1.03, 0.97, 1.02, 0.98]
    base = process_runs(tmp_path, "base", [1e-3 * d for d in drift], n=50)
    new = process_runs(tmp_path, "new", [2e-3 * d for d in reversed(drift)], n=50)
    merge(tmp_path / "base.json", base)
    merge(tmp_path / "new.json", new)
    code, report = compare_json(tmp_path / "base.json", tmp_path / "new.json")
    (row,) = report["benchmarks"]
    assert code == 1 and row["verdict"] == "regression"
    assert row["ci_low"] > 1.8 and row["ci_high"] < 2.2 and row["p_value"] < 0.001


def test_merge_keeps_every_sample_and_refuses_other_commits(tmp_path):
    runs = process_runs(tmp_path, "run", [1e-3, 1.1e-3], n=20)
    out = tmp_path / "out" / "merged.json"
    result = merge(out, runs)
    assert result.exit_code == 0, result.output
    (bench,) = json.loads(out.read_text())["benchmarks"]
    originals = [json.loads(r.read_text())["benchmarks"][0]["stats"]["data"] for r in runs]
    assert bench["stats"]["data"] == originals[0] + originals[1]
    assert bench["extra_info"]["hyperf_process_rounds"] == [20, 20]
    assert bench["stats"]["rounds"] == 40
    other = json.loads(runs[1].read_text())
    other["commit_info"]["id"] = "1" * 40
    runs[1].write_text(json.dumps(other))
    refused(merge(tmp_path / "again.json", runs), "commit_info.id", runs[1].name)
    assert not (tmp_path / "again.json").exists()
    broken = json.loads(out.read_text())
    broken["benchmarks"][0]["extra_info"]["hyperf_process_rounds"] = [20, 19]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    refused(compare(tmp_path / "broken.json", out), "hyperf_process_rounds", "broken.json")


# --- history as the noise model (--db) ------------------------------------------------------


def history_run(tmp_path: Path, index: int, median: float, machine: dict | None = None) -> Path:
    """One stored run: a single process, 200 samples (σ = 0.05) around ``median``, its own
    commit and time, as CI would import one per commit."""
    path = write_results(
        tmp_path / f"run-{index}.json",
        [entry("test_op", samples(median, 0.05, 200), group="op-cpu")],
        machine,
    )
    content = json.loads(path.read_text())
    content["commit_info"]["id"] = f"{index:040x}"
    content["datetime"] = f"2026-11-{index + 1:02d}T07:00:00+00:00"
    path.write_text(json.dumps(content))
    return path


def one_run(path: Path, median: float) -> Path:
    """A file holding one process of test_op: 200 samples (σ = 0.05) around ``median``."""
    return write_results(path, [entry("test_op", samples(median, 0.05, 200), "op-cpu")])


def history_db(tmp_path: Path, medians: list[float], machine: dict | None = None) -> Path:
    runs = [history_run(tmp_path, i, m, machine) for i, m in enumerate(medians)]
    db = tmp_path / "history.db"
    imported = CliRunner().invoke(main, ["bench", "import", *map(str, runs), "--db", str(db)])
    assert imported.exit_code == 0, imported.output
    return db


def test_history_decides_what_one_process_a_side_cannot(tmp_path):
    """Eight stored runs whose medians spread by 1 % (σ = 0.01 between runs): with the 8 %
    prior worth one run, σ̂ ≈ 0.03 on 8 degrees of freedom, so the two-run difference has
    SE ≈ 0.042 and t(8) at 0.995 = 3.36 asks for d > 0.14. A 1.25× run (d = 0.223, its own
    noise ≈ 0.014) is a regression unless 5.8 SE short; a same-code run (d ≈ 0 ± 0.014) is
    one only past 11 SE. Without --db the 1.25× run is inconclusive."""
    levels = RNG.lognormal(np.log(1e-3), 0.01, 8)
    db = history_db(tmp_path, levels.tolist())
    base = one_run(tmp_path / "base.json", 1e-3)
    same = one_run(tmp_path / "same.json", 1e-3)
    slow = one_run(tmp_path / "slow.json", 1.25e-3)

    code, report = compare_json(base, slow, "--db", db)
    (row,) = report["benchmarks"]
    assert code == 1 and row["verdict"] == "regression", (SEED, row)
    assert row["method"] == "history" and row["history_runs"] == 8
    assert row["history_spread"] < 0.05, row  # 1 % measured, pulled towards 8 % by the prior
    assert 1 < row["ci_low"] < 1.25 < row["ci_high"], (SEED, row)
    assert "8 run(s) on this machine" in report["history"]

    code, report = compare_json(base, same, "--db", db)
    assert code == 0 and report["benchmarks"][0]["verdict"] != "regression", (SEED, report)

    code, report = compare_json(base, slow)
    assert code == 0 and verdicts(report) == {"test_op": "inconclusive"}, SEED
    table = compare(base, slow, "--db", db)
    assert table.exit_code == 1 and "history (8 runs" in table.output


def test_a_past_change_in_the_history_is_not_noise(tmp_path):
    """Four runs at 1.0 ms, then four at 1.3 ms (a real change, σ = 0.01 within each): pooled
    within the two levels the step detector finds, the spread stays ≈ 1 %; counted as noise
    it would be ≈ 14 % and hide the next 1.25× slowdown (t ≈ 1.1)."""
    levels = [*RNG.lognormal(np.log(1e-3), 0.01, 4), *RNG.lognormal(np.log(1.3e-3), 0.01, 4)]
    db = history_db(tmp_path, [float(x) for x in levels])
    base = one_run(tmp_path / "base.json", 1.3e-3)
    slow = one_run(tmp_path / "slow.json", 1.625e-3)
    code, report = compare_json(base, slow, "--db", db)
    (row,) = report["benchmarks"]
    assert row["history_spread"] < 0.05, (SEED, row)
    assert code == 1 and row["verdict"] == "regression", (SEED, row)


def test_history_from_another_machine_is_warned_about_and_not_used(tmp_path):
    other = json.loads(json.dumps(MACHINE_INFO))
    other["hyperf"]["gpu_name"] = "NVIDIA A100-SXM4-80GB"
    db = history_db(tmp_path, [1e-3] * 8, machine=other)
    base = one_run(tmp_path / "base.json", 1e-3)
    slow = one_run(tmp_path / "slow.json", 1.25e-3)
    code, report = compare_json(base, slow, "--db", db)
    assert code == 0 and report["benchmarks"][0]["method"] == "within-run"
    assert "8 run(s) from another machine not used" in report["history"]
    assert "hyperf.gpu_name" in report["history"]


def test_a_missing_history_store_is_refused(tmp_path):
    files = [good_file(tmp_path / "base.json"), good_file(tmp_path / "new.json")]
    refused(compare(*files, "--db", tmp_path / "absent.db"), "absent.db", "bench import")


def test_files_with_no_benchmark_in_common_are_refused(tmp_path):
    base = write_results(tmp_path / "base.json", [entry("test_old", samples(1e-3, 0.05, 20))])
    new = write_results(tmp_path / "new.json", [entry("test_renamed", samples(1e-3, 0.05, 20))])
    refused(compare(base, new), "no benchmark in common", "new.json")
    empty = write_results(tmp_path / "empty.json", [])
    refused(compare(empty, empty), "no benchmark in common")


# --- drift control (--control) ---------------------------------------------------------------


def with_controls(benchmarks: list[dict], machine: list[float], n: int = 60) -> list[dict]:
    """Controls (a matmul and a copy, group control-cpu) in the same processes as
    ``benchmarks``, each process's controls slowed by that process's ``machine`` factor."""
    controls = []
    for name, median in (("test_control_matmul[cpu]", 2.4e-4), ("test_control_copy[cpu]", 8e-4)):
        data = [x for factor in machine for x in samples(median * factor, 0.02, n)]
        control = entry(name, data, "control-cpu")
        control["extra_info"]["hyperf_process_rounds"] = [n] * len(machine)
        controls.append(control)
    return [*benchmarks, *controls]


def slowed(name: str, median: float, machine: list[float], n: int = 60) -> dict:
    """A benchmark in group op-cpu whose process p runs ``machine[p]`` times slower."""
    data = [x for factor in machine for x in samples(median * factor, 0.02, n)]
    benchmark = entry(name, data, "op-cpu")
    benchmark["extra_info"]["hyperf_process_rounds"] = [n] * len(machine)
    return benchmark


def test_the_control_cancels_a_machine_wide_slowdown(tmp_path):
    """NEW's five processes ran on a machine 1.3× slower throughout (controls and benchmarks
    alike, ±3 % per process); only test_slow's code got 1.25× slower. Plainly, both look like
    regressions (1.3× and 1.63×); controlled, test_same is unchanged and test_slow a 1.25×
    regression, and the report shows both ratios and the controls' own."""
    quiet = RNG.lognormal(0, 0.03, 5).tolist()
    busy = (1.3 * RNG.lognormal(0, 0.03, 5)).tolist()
    base = [slowed("test_same", 1e-3, quiet), slowed("test_slow", 2e-3, quiet)]
    new = [slowed("test_same", 1e-3, busy), slowed("test_slow", 2.5e-3, busy)]
    files = pair(tmp_path, with_controls(base, quiet), with_controls(new, busy))
    code, plain = compare_json(*files)
    assert code == 1 and verdicts(plain)["test_same"] == "regression", SEED
    assert verdicts(plain)["test_control_matmul[cpu]"] == "regression"

    code, report = compare_json(*files, "--control")
    found = {b["name"]: b for b in report["benchmarks"]}
    assert report["control"] is True
    assert found["test_same"]["verdict"] == "unchanged", (SEED, found["test_same"])
    assert found["test_slow"]["verdict"] == "regression", (SEED, found["test_slow"])
    assert code == 1
    assert 1.2 < found["test_slow"]["ratio"] < 1.3
    assert 1.5 < found["test_slow"]["uncontrolled_ratio"] < 1.8
    assert 1.2 < found["test_slow"]["control_ratio"] < 1.4
    assert found["test_control_copy[cpu]"]["is_control"] is True
    table = compare(*files, "--control")
    assert "plain change" in table.output and "control change" in table.output


def test_controls_never_fail_the_gate(tmp_path):
    """A machine 1.5× slower and nothing else: the controls regress, the gate passes."""
    quiet, busy = [1.0, 1.02, 0.98, 1.01, 0.99], [1.5, 1.53, 1.47, 1.52, 1.48]
    base = with_controls([slowed("test_op", 1e-3, [1.0] * 5)], quiet)
    new = with_controls([slowed("test_op", 1e-3, [1.0] * 5)], busy)
    code, report = compare_json(*pair(tmp_path, base, new), "--control")
    assert verdicts(report)["test_control_matmul[cpu]"] == "regression"
    assert code == 0 and report["regression"] is False


def test_control_without_controls_is_refused(tmp_path):
    files = [good_file(tmp_path / "base.json"), good_file(tmp_path / "new.json")]
    refused(compare(*files, "--control"), "base.json", "control", "test_control.py")


# --- bad input, second round (issue 29): the bench commands' own cases ------------------------


def test_merge_refuses_to_overwrite_one_of_its_inputs(tmp_path):
    runs = process_runs(tmp_path, "run", [1e-3, 1.1e-3], n=20)
    before = runs[0].read_bytes()
    refused(merge(runs[0], runs), "run-0.json", "input")
    assert runs[0].read_bytes() == before


def test_bench_files_that_are_fifos_are_refused_without_waiting(tmp_path):
    """A FIFO as BASE, as a merged run, as thresholds, as an imported file: refused from its
    stat alone (opening it would wait for a writer forever). In a subprocess with a time
    limit, so a hang fails this test instead of stalling the suite."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    good = good_file(tmp_path / "good.json")
    commands = [
        ["compare", str(fifo), str(good)],
        ["compare", str(good), str(good), "--thresholds", str(fifo)],
        ["merge", str(tmp_path / "out.json"), str(fifo)],
        ["import", str(fifo), "--db", str(tmp_path / "h.db")],
    ]
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "hyperf.cli", "bench", *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (command, done.stderr)
        assert "pipe.json" in done.stderr and "not a regular file" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "h.db").exists()


def test_importing_a_stored_file_again_leaves_the_store_untouched(tmp_path):
    db = history_db(tmp_path, [1e-3, 1.1e-3])
    before = db.read_bytes()
    again = CliRunner().invoke(
        main, ["bench", "import", str(tmp_path / "run-0.json"), "--db", str(db)]
    )
    assert again.exit_code == 0 and "imported 0" in again.output and "skipped 1" in again.output
    assert db.read_bytes() == before
