"""Runner overhead per point: what a sweep costs beyond measuring.

    python benchmarks/sweep_overhead.py

Runs a sweep of small points (memory and FLOP counting off) and compares the sweep's wall
time with the time spent inside the timer and the correctness gate, per point. The rest —
plan, worker round trip, building the point, the store transaction — is the overhead.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec

SPEC = """
name: overhead
device: cpu
ops: [longconv:fft, hyena:fft, attention:sdpa-flash]
modes: [fwd]
axes: {seq_len: [64, 128, 256, 512, 1024], d_model: [16, 32, 64, 128], heads: [2]}
budget: {seconds: 0.05, min_samples: 5, warmup_s: 0, warmup_calls: 1}
measure_memory: false
count_flops: false
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(SPEC)
        spec, text = load_spec(path)
        start = time.perf_counter()
        summary = run_sweep(spec, text, str(Path(tmp) / "r.db"), quiet=True)
        wall = time.perf_counter() - start
        with Store(Path(tmp) / "r.db") as store:
            points = store.points([summary.run_id])
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import hyperf.sweep.worker"], check=True)
    worker_start = time.perf_counter() - start
    measuring = points["wall_s"].sum()
    checking = sum(json.loads(d)["check_s"] for d in points["detail_json"])
    n = len(points)
    print(f"{n} points in {wall:.1f} s: timer {measuring:.1f} s, correctness gate {checking:.1f} s")
    print(
        f"overhead per point beyond the timer and the gate: "
        f"{1e3 * (wall - measuring - checking) / n:.1f} ms "
        f"(beyond the timer alone: {1e3 * (wall - measuring) / n:.1f} ms)"
    )
    print(
        f"of which the one-time worker start ({worker_start:.1f} s, importing torch) is "
        f"{1e3 * worker_start / n:.1f} ms per point; steady state "
        f"{1e3 * (wall - measuring - checking - worker_start) / n:.1f} ms per point"
    )


if __name__ == "__main__":
    main()
