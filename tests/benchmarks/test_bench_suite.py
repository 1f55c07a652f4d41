"""The suite writes what the regression gate reads: one real benchmark run, end to end.

``hyperf bench compare`` reads ``--benchmark-json`` files: raw samples in seconds per call,
``machine_info["hyperf"]``, a group per family and device, FLOPs in ``extra_info``. A change
to hyperf's timing or environment code, or to pytest-benchmark, that breaks any of these
fails here rather than in the gate.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE = "tests/benchmarks/test_bench_ops.py::test_longconv[cpu-longconv:fft-L256-fwd]"
HYPERF_KEYS = {
    *("device", "gpu_name", "gpu_capability", "driver", "cuda", "torch", "triton"),
    *("flash_attn", "cpu_model", "threads", "allocator", "hyperf"),
}


def run_suite(*args: str) -> str:
    """Run CASE as scripts/bench.sh runs the suite (benchmarks enabled) in a fresh process."""
    command = [sys.executable, "-m", "pytest", CASE, "-p", "no:cacheprovider", "--benchmark-enable"]
    command += ["--benchmark-only", "--benchmark-max-time=0.05", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.slow
def test_json_holds_samples_environment_and_flops(tmp_path: Path) -> None:
    # A saved run from another environment to compare with: the suite must name what differs.
    base = tmp_path / "base.json"
    base.write_text(
        json.dumps(
            {
                "machine_info": {"hyperf": {"torch": "0.0-elsewhere"}},
                "commit_info": {},
                "benchmarks": [],
                "datetime": "2026-01-01T00:00:00+00:00",
                "version": "5.3.1",
            }
        )
    )
    out = tmp_path / "new.json"
    output = run_suite(f"--benchmark-json={out}", f"--benchmark-compare={base}")
    assert "hyperf environment differs" in output
    assert "torch: '0.0-elsewhere' then" in output

    report = json.loads(out.read_text())
    assert set(report["machine_info"]["hyperf"]) == HYPERF_KEYS
    [bench] = report["benchmarks"]
    assert bench["group"] == "longconv-cpu"
    samples = bench["stats"]["data"]
    assert len(samples) == bench["stats"]["rounds"] >= 5
    assert bench["stats"]["iterations"] == 1
    assert all(0 < s < 1 for s in samples)  # seconds per call, not ms
    median = statistics.median(samples)
    assert bench["stats"]["median"] == pytest.approx(median, rel=1e-12)
    extra = bench["extra_info"]
    assert (extra["op"], extra["mode"], extra["device"]) == ("longconv:fft", "fwd", "cpu")
    assert extra["flops"] > 0
    assert extra["tflops"] == pytest.approx(extra["flops"] / median / 1e12)
    assert extra["timer"] == "perf_counter_ns"
