"""Do a run's 95 % CIs cover what the next run measures?

Runs the same small spec in RUNS separate ``hyperf sweep`` processes (each point measured in
``repeats`` worker processes per run) and counts, for every run i and point p, whether run i's
interval covers the median of the other runs' times for p. Two intervals are scored on the
same runs:

- two-level: the point's stored CI (processes resampled, then samples; ``stats.py``);
- one process: the CI a single process gives about itself — the percentile bootstrap of
  repeat 0's median, which is what hyperf reported before repeats (issue 10: 0.67).

A figure for the closing note, not a test: run it on a quiet machine.

    python benchmarks/ci_coverage.py [--runs 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hyperf.store import Store

SPEC = """
name: ci_coverage
device: cpu
ops: [hyena:fft]
modes: [fwd_bwd]
axes: {{seq_len: [1024], d_model: [64]}}
points:
  - {{op: hyena:fft, seq_len: 2048, d_model: 64, mode: fwd}}
  - {{op: attention:sdpa-flash, seq_len: 2048, d_model: 64, n_heads: 2, mode: fwd}}
budget: {{seconds: 0.5, warmup_s: 0.1, repeats: {repeats}, retries: 2}}
measure_memory: false
count_flops: false
"""


def percentile_bootstrap(samples: np.ndarray, resamples: int = 2000, seed: int = 0):
    """The interval hyperf reported before repeats: within one process only."""
    rng = np.random.default_rng(seed)
    medians = np.median(samples[rng.integers(0, samples.size, (resamples, samples.size))], 1)
    return np.percentile(medians, [2.5, 97.5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hyperf-coverage-"))
    spec = work / "spec.yaml"
    spec.write_text(textwrap.dedent(SPEC.format(repeats=args.repeats)))
    db = work / "coverage.db"
    started = time.perf_counter()
    for run in range(args.runs):
        subprocess.run(
            [sys.executable, "-m", "hyperf.cli", "sweep", str(spec), "--db", str(db), "--quiet"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"run {run + 1}/{args.runs} done", flush=True)
    with Store(db) as store:
        points = store.points()
        samples = store.samples()
    rows = []
    for point_id, group in points.groupby("point_id"):
        for _, row in group.iterrows():
            others = group[group["run_id"] != row["run_id"]]["median_ms"].median()
            first = samples[
                (samples["run_id"] == row["run_id"])
                & (samples["point_id"] == point_id)
                & (samples["repeat"] == 0)
            ]["ms"].to_numpy()
            low, high = percentile_bootstrap(first)
            rows.append(
                {
                    "point": f"{row['op']} {row['mode']} L={row['seq_len']}",
                    "run": row["run_id"],
                    "contended": row["contended"],
                    "two_level": row["ci_low_ms"] <= others <= row["ci_high_ms"],
                    "two_level_halfwidth": row["rel_ci_halfwidth"],
                    "one_process": low <= others <= high,
                    "one_process_halfwidth": (high - low) / 2 / np.median(first),
                    "between_cv": row["between_cv"],
                }
            )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 10)
    print(
        table.groupby("point")[
            [
                "two_level",
                "one_process",
                "two_level_halfwidth",
                "one_process_halfwidth",
                "between_cv",
            ]
        ]
        .mean()
        .round(3)
    )
    print(
        f"\ncoverage of the other runs' median over {len(table)} (run, point) pairs, "
        f"{args.runs} runs × {args.repeats} processes: two-level {table['two_level'].mean():.2f}, "
        f"one process {table['one_process'].mean():.2f}; contended points: "
        f"{int(table['contended'].sum())}; wall {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
