"""How often the regression gate cries wolf, and how often it catches a slowdown, per method.

    python scripts/gate_error_rates.py OUT_DIR [--runs 24] [-k EXPR] [--max-time 0.2]

Runs the CPU benchmark suite (``-k`` selects which benchmarks) ``--runs`` times in a row, one
process each, the same code every time, and keeps each run's JSON in OUT_DIR (a later call
with the same OUT_DIR reuses them). Then it forms comparisons from consecutive runs, four
ways, each as the gate would see it:

- one process a side, no history: run i against run i + 1;
- one process a side with history: the same, with runs i − 8 … i − 1 imported as history;
- merged, not interleaved: runs i … i + 4 against runs i + 5 … i + 9 (what comparing a
  merged BASE file from one CI job with a merged NEW file from a later one gives);
- interleaved A/B (``hyperf bench ab``): the even runs of i … i + 9 against the odd ones.

Every comparison is of the same code, so a ``regression`` is a false positive; then NEW's
samples are scaled by 1.1, 1.25 and 1.5 (its controls left alone), and the share of
benchmarks called ``regression`` is the detection rate. Thresholds: ``--threshold`` for every
benchmark (default 0.10), alpha 0.01. ``--control`` divides by the drift controls first.
Prints a Markdown table and writes OUT_DIR/error-rates.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path

from hyperf.bench.files import Benchmark, BenchmarkFile, load_benchmark_file, merge_runs
from hyperf.bench.gate import (
    REGRESSION,
    compare_benchmark,
    control_times,
    controlled,
    decide,
    is_control,
    judge_family,
)
from hyperf.bench.history import parse_file
from hyperf.bench.noise import load_history
from hyperf.bench.thresholds import Thresholds, threshold_for
from hyperf.stats.comparison import samples_ratio
from hyperf.store import Store

ROOT = Path(__file__).resolve().parents[1]
FACTORS = (1.0, 1.1, 1.25, 1.5)
HISTORY_RUNS = 8
BLOCK = 5  # processes a side for the merged and interleaved comparisons


def collect(out: Path, runs: int, keyword: str, max_time: float) -> list[Path]:
    """``runs`` one-process runs of the suite, reusing those already in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(runs):
        path = out / f"run-{index:03d}.json"
        if not path.is_file():
            command = [sys.executable, "-m", "pytest", "tests/benchmarks", "-q", "-p"]
            command += ["no:cacheprovider", "--benchmark-enable", "--benchmark-only"]
            command += ["--benchmark-save-data", f"--benchmark-json={path}", "-k", keyword]
            command += [f"--benchmark-max-time={max_time}"]
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            print(f"run {index + 1} of {runs}", file=sys.stderr)
        paths.append(path)
    return paths


def merged(paths: list[Path], folder: Path, name: str) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(merge_runs([(str(p), json.loads(p.read_text())) for p in paths])))
    return path


def scaled(file: BenchmarkFile, factor: float) -> BenchmarkFile:
    """NEW ``factor`` times slower: every sample of every benchmark but the controls."""

    def slow(b: Benchmark) -> Benchmark:
        if is_control(b) or factor == 1.0:
            return b
        return replace(
            b, samples=b.samples * factor, processes=tuple(p * factor for p in b.processes)
        )

    return replace(file, benchmarks={k: slow(b) for k, b in file.benchmarks.items()})


def within_run_verdict(b: Benchmark, n: Benchmark, thresholds: Thresholds) -> str:
    """The verdict the gate gave one process a side before history: the within-run test."""
    seed = zlib.crc32(b.key.encode())
    ratio, low, high, p = samples_ratio(b.samples, n.samples, 1 - thresholds.alpha, seed)
    return decide(ratio, low, high, p, threshold_for(n, thresholds)[0], thresholds.alpha)


def verdicts(
    base: BenchmarkFile,
    new: BenchmarkFile,
    thresholds: Thresholds,
    control: bool,
    noise=None,
    old: bool = False,
) -> list[str]:
    """The gate's verdict on every non-control benchmark in both files (``old``: the
    within-run test as the gate applied it to one process a side before history)."""
    controls = (control_times(base), control_times(new)) if control else None
    out, found = [], []
    for key, b in base.benchmarks.items():
        n = new.benchmarks.get(key)
        if n is None or is_control(b):
            continue
        if old:
            out.append(within_run_verdict(b, n, thresholds))
            continue
        pair = None
        if controls:
            pair = (controlled(b, controls[0], base.path), controlled(n, controls[1], new.path))
        found.append(compare_benchmark(b, n, thresholds, noise.get(key) if noise else None, pair))
    return out + [c.verdict for c in judge_family(found, thresholds.alpha)]


def comparisons(paths: list[Path], folder: Path) -> dict[str, list[tuple[Path, Path, Path | None]]]:
    """(BASE file, NEW file, history store or None) per method, from runs in time order."""
    one = [(paths[i], paths[i + 1], None) for i in range(len(paths) - 1)]
    old = [(b, n, "old") for b, n, _ in one]
    history = []
    for i in range(HISTORY_RUNS, len(paths) - 1):
        db = folder / f"history-{i}.db"
        if not db.exists():
            with Store(db, write=True) as store:
                for p in paths[i - HISTORY_RUNS : i]:
                    store.import_benchmarks(parse_file(p))
        history.append((paths[i], paths[i + 1], db))
    blocks, interleaved = [], []
    for i in range(len(paths) - 2 * BLOCK + 1):
        window = paths[i : i + 2 * BLOCK]
        blocks.append(
            (
                merged(window[:BLOCK], folder, f"block-a-{i}"),
                merged(window[BLOCK:], folder, f"block-b-{i}"),
                None,
            )
        )
        interleaved.append(
            (
                merged(window[0::2], folder, f"ab-a-{i}"),
                merged(window[1::2], folder, f"ab-b-{i}"),
                None,
            )
        )
    return {
        "one process a side, within-run test (the gate before)": old,
        "one process a side, no history (now: inconclusive)": one,
        f"one process, history of {HISTORY_RUNS}": history,
        f"merged {BLOCK}+{BLOCK}, not interleaved": blocks,
        f"interleaved A/B {BLOCK}+{BLOCK} (bench ab)": interleaved,
    }


def rates(cases, thresholds: Thresholds, control: bool) -> dict:
    """Per factor: the share of benchmark comparisons called regression, and of comparisons
    with any regression."""
    result = {}
    for factor in FACTORS:
        flagged = total = any_flagged = 0
        for base_path, new_path, db in cases:
            base = load_benchmark_file(base_path)
            new = scaled(load_benchmark_file(new_path), factor)
            noise = None
            if db is not None and db != "old":
                run_key = parse_file(new_path)["run"]["run_key"]
                noise = load_history(db, new.machine_info, run_key).noise
            found = verdicts(base, new, thresholds, control, noise, old=db == "old")
            flagged += sum(v == REGRESSION for v in found)
            total += len(found)
            any_flagged += any(v == REGRESSION for v in found)
        result[factor] = {
            "benchmarks_flagged": flagged,
            "benchmarks": total,
            "comparisons_flagged": any_flagged,
            "comparisons": len(cases),
        }
    return result


def share(r: dict) -> str:
    flagged, total = r["benchmarks_flagged"], r["benchmarks"]
    return f"{flagged}/{total} ({flagged / max(total, 1):.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("-k", dest="keyword", default="L256 or control")
    parser.add_argument("--max-time", type=float, default=0.2)
    parser.add_argument("--threshold", type=float, default=0.10)
    parser.add_argument("--control", action="store_true")
    args = parser.parse_args()
    paths = collect(args.out, args.runs, args.keyword, args.max_time)
    thresholds = Thresholds(default=args.threshold, alpha=0.01)
    table = {}
    with tempfile.TemporaryDirectory() as scratch:
        for method, cases in comparisons(paths, Path(scratch)).items():
            table[method] = rates(cases, thresholds, args.control)
    print(
        f"threshold {args.threshold:.0%}, alpha 0.01{', controlled' if args.control else ''}; "
        f"{args.runs} runs of the same code"
    )
    header = ["method", "comparisons", "false positives (benchmarks)", "any (comparisons)"]
    header += [f"caught at {f}×" for f in FACTORS[1:]]
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for method, by_factor in table.items():
        same = by_factor[1.0]
        cells = [share(by_factor[f]) for f in FACTORS[1:]]
        print(
            f"| {method} | {same['comparisons']} | {share(same)} | "
            f"{same['comparisons_flagged']}/{same['comparisons']} | " + " | ".join(cells) + " |"
        )
    name = f"error-rates-t{args.threshold:g}{'-control' if args.control else ''}.json"
    (args.out / name).write_text(
        json.dumps({m: {str(f): r for f, r in v.items()} for m, v in table.items()}, indent=1)
    )


if __name__ == "__main__":
    main()
