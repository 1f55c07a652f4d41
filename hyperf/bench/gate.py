"""The regression gate: ``hyperf bench compare BASE.json NEW.json`` benchmark by benchmark —
matched by ``hyperf.bench.files``, each given a ratio, a CI and a p-value by
``hyperf.stats.comparison`` (the maths and its assumptions are there), and a verdict here.

**Model, in short.** With one process a side, the samples of a benchmark are treated as
independent draws; they share their process's state, so a p-value answers "did these two
processes differ?", not "did the code change?". The relative threshold is what absorbs
process-to-process drift; its default, 10 %, sits above the 4–8 % measured on a quiet 2-core
machine. Drift can be far larger: on a shared, loaded 2-core machine whole runs of a 240 µs
benchmark came out 1.4× apart, and sub-microsecond benchmarks, whose iterations per round
pytest-benchmark calibrates anew in each run, moved by 40 %. Set per-group thresholds from
repeated runs of the same code on the machine that runs the gate.

**Verdict**, with r = NEW / BASE, its CI at 1 − alpha, p the test's p-value and t the
benchmark's relative threshold (``threshold_for``):

- ``regression``: p < alpha, r > 1 + t, and the CI's lower end > 1.
- ``improvement``: p < alpha, r < 1 / (1 + t), and the CI's upper end < 1 (symmetric to a
  regression on a log scale: a 10 % threshold calls 1.1× slower and 1.1× faster changes).
- ``unchanged``: the whole CI lies within [1 / (1 + t), 1 + t]: any change is smaller than
  the threshold, with confidence 1 − alpha.
- ``inconclusive``: none of these — the interval reaches past the threshold but the evidence
  does not carry a verdict (too few or too noisy samples; rerun with more rounds).
- ``too few samples``: fewer than ``MIN_SAMPLES`` in either file; never a regression.

Only ``regression`` fails the gate.

**Several processes per side.** A run of the suite is one process, and on a shared CPU whole
processes drift: two runs of the same commit on this project's 2-core machine gave medians
0.77–1.74× apart while each run's own CI was ±2 % — the single-process test called 17 of 36
unchanged benchmarks regressions. ``hyperf bench merge`` (and ``scripts/bench.sh``, which runs
the suite in several processes) keeps each process's samples apart. When both sides hold at
least two processes, the processes are the independent units
(``hyperf.stats.comparison.processes_ratio``: ratio of centres, the two-level bootstrap,
Welch's t-test on log process medians); the verdict rules stay as above.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperf.bench.files import Benchmark, dict_or_empty, load_benchmark_file, match
from hyperf.bench.thresholds import Thresholds, ThresholdSettings, threshold_for
from hyperf.stats.bootstrap import centre
from hyperf.stats.comparison import processes_ratio, samples_ratio

MIN_SAMPLES = 5

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
INCONCLUSIVE = "inconclusive"
TOO_FEW = "too few samples"
VERDICTS = (REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE, TOO_FEW)


def decide(
    ratio: float, ci_low: float, ci_high: float, p_value: float, threshold: float, alpha: float
) -> str:
    """The verdict for a benchmark with enough samples (the rules in the module docstring)."""
    slower, faster = 1 + threshold, 1 / (1 + threshold)
    if p_value < alpha and ratio > slower and ci_low > 1:
        return REGRESSION
    if p_value < alpha and ratio < faster and ci_high < 1:
        return IMPROVEMENT
    if faster <= ci_low and ci_high <= slower:
        return UNCHANGED
    return INCONCLUSIVE


# --- machines ------------------------------------------------------------------------------

# machine_info keys that decide speed. hyperf's pytest plugin adds machine_info["hyperf"]
# (device, gpu_name, gpu_capability, torch, cuda, threads, ...): every key of it counts.
MACHINE_KEYS = (
    ("cpu", "brand_raw"),
    ("cpu", "count"),
    ("processor",),
    ("machine",),
    ("python_implementation",),
    ("python_version",),
)


def machine_differences(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per speed-deciding machine_info key whose values differ between the files."""
    hyperf_keys = {*dict_or_empty(base.get("hyperf")), *dict_or_empty(new.get("hyperf"))}
    keys = [*MACHINE_KEYS, *(("hyperf", key) for key in sorted(hyperf_keys))]
    lines = []
    for key in keys:
        before, after = _lookup(base, key), _lookup(new, key)
        if before != after:
            lines.append(f"{'.'.join(key)}: {before!r} in BASE, {after!r} in NEW")
    return lines


def _lookup(info: dict[str, Any], key: tuple[str, ...]) -> Any:
    value: Any = info
    for part in key:
        value = dict_or_empty(value).get(part)
    return value


# --- the comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One benchmark's comparison. Medians in seconds (with several processes a side: the
    geometric mean of the process medians); ratio = NEW / BASE; the CI and p-value are None
    where they cannot be computed (too few samples)."""

    key: str
    name: str
    group: str | None
    params: dict[str, Any] | None
    base_rounds: int
    new_rounds: int
    base_processes: int
    new_processes: int
    base_median_s: float
    new_median_s: float
    ratio: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    threshold: float
    threshold_pattern: str | None  # the [groups] pattern that set the threshold
    verdict: str


@dataclass(frozen=True)
class Report:
    base_file: str
    new_file: str
    alpha: float
    confidence: float
    thresholds_from: str
    comparisons: list[Comparison]
    missing: list[str]  # keys in BASE only
    new: list[str]  # keys in NEW only
    machine_warnings: list[str]

    def counts(self) -> dict[str, int]:
        """Benchmarks per verdict, in VERDICTS order, verdicts that occur only."""
        counted = Counter(c.verdict for c in self.comparisons)
        return {verdict: counted[verdict] for verdict in VERDICTS if counted[verdict]}

    @property
    def regressed(self) -> bool:
        return any(c.verdict == REGRESSION for c in self.comparisons)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "comparisons"},
            "benchmarks": [asdict(c) for c in self.comparisons],
            "summary": self.counts(),
            "regression": self.regressed,
        }


def compare_benchmark(base: Benchmark, new: Benchmark, thresholds: Thresholds) -> Comparison:
    """Compare one matched pair of benchmarks (the rules in the module docstring)."""
    threshold, pattern = threshold_for(new, thresholds)
    base_median, new_median = float(np.median(base.samples)), float(np.median(new.samples))
    ratio = new_median / base_median
    ci_low = ci_high = p_value = None
    seed = zlib.crc32(base.key.encode())  # one fixed stream per benchmark
    confidence = 1 - thresholds.alpha
    if min(len(base.samples), len(new.samples)) < MIN_SAMPLES:
        verdict = TOO_FEW
    elif min(base.process_count, new.process_count) >= 2:
        base_median, new_median = centre(base.processes), centre(new.processes)
        ratio, ci_low, ci_high, p_value = processes_ratio(
            base.processes, new.processes, confidence, seed
        )
        verdict = decide(ratio, ci_low, ci_high, p_value, threshold, thresholds.alpha)
    else:
        ratio, ci_low, ci_high, p_value = samples_ratio(base.samples, new.samples, confidence, seed)
        verdict = decide(ratio, ci_low, ci_high, p_value, threshold, thresholds.alpha)
    return Comparison(
        key=new.key,
        name=new.name,
        group=new.group,
        params=new.params,
        base_rounds=len(base.samples),
        new_rounds=len(new.samples),
        base_processes=base.process_count,
        new_processes=new.process_count,
        base_median_s=base_median,
        new_median_s=new_median,
        ratio=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        threshold=threshold,
        threshold_pattern=pattern,
        verdict=verdict,
    )


def compare_files(
    base_path: str | Path, new_path: str | Path, settings: ThresholdSettings
) -> Report:
    """Load both files, match their benchmarks, compare each pair, check the machines."""
    base, new = load_benchmark_file(base_path), load_benchmark_file(new_path)
    pairs, missing, added = match(base.benchmarks, new.benchmarks)
    thresholds = settings.thresholds
    return Report(
        base_file=base.path,
        new_file=new.path,
        alpha=thresholds.alpha,
        confidence=1 - thresholds.alpha,
        thresholds_from=settings.source,
        comparisons=[compare_benchmark(b, n, thresholds) for b, n in pairs],
        missing=missing,
        new=added,
        machine_warnings=machine_differences(base.machine_info, new.machine_info),
    )
