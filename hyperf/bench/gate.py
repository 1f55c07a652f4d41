"""The regression gate: ``hyperf bench compare BASE.json NEW.json`` benchmark by benchmark —
matched by ``hyperf.bench.files``, each given a ratio, a CI and a p-value by
``hyperf.stats.comparison`` (the maths and its assumptions are there), and a verdict here.

**Which test** (``method`` in the report), in order of preference:

- ``processes``: both sides hold two or more processes (``hyperf bench merge``,
  ``scripts/bench.sh``, ``hyperf bench ab``). The processes are the independent units
  (``processes_ratio``: ratio of centres, the two-level bootstrap, Welch's t-test on log
  process medians). Whole processes drift on a shared CPU — two runs of one commit on this
  project's 2-core machine gave medians 0.77–1.74× apart while each run's own CI was ±2 % —
  and this test sees that drift as the noise it is. Interleaving the two sides' processes
  (``hyperf bench ab``) also spreads a drift over time across both.
- ``history``: a side holds one process and the store given with ``--db`` holds at least
  ``MIN_HISTORY_RUNS`` earlier runs of the benchmark on the same machine
  (``hyperf.bench.noise``): their run-to-run spread is the noise (``history_ratio``).
- ``within-run``: one process a side and no history. The samples are compared as
  independent draws (``samples_ratio``), which they are not: they share their process's
  state, so the test answers "did these two processes differ?", not "did the code change?".
  Such a comparison is never ``regression`` (nor ``improvement``): what would be one is
  ``inconclusive``, and the report says what would decide it.

**Drift control** (``control=True``, ``--control``): each process of the suite also times fixed
control benchmarks (group ``control-<device>``: a matmul and a copy,
``tests/benchmarks/test_control.py``). Each benchmark's samples in process p are divided by
that process's control time (the geometric mean of its controls' medians on the same device),
which cancels a machine-wide slowdown of a whole process — the 30–40 % swings between runs
seen here — and leaves what the code changed. The verdict is then on the controlled ratio;
the report shows it beside the plain one and the controls' own ratio. Use it where runs are
far apart in time or on a shared machine; it assumes a slowdown of the machine slows the
controls and the benchmarks alike (memory-bound and compute-bound work can drift apart).
Controls themselves are compared plainly and never fail the gate.

**Verdict**, with r = NEW / BASE, its CI at 1 − alpha, p the test's p-value adjusted by
Holm's method over the benchmarks compared (``holm_adjusted``: a rerun of the same code flags
any benchmark with probability ≤ alpha, not m·alpha) and t the benchmark's relative
threshold (``threshold_for``):

- ``regression``: p < alpha, r > 1 + t, and the CI's lower end > 1.
- ``improvement``: p < alpha, r < 1 / (1 + t), and the CI's upper end < 1 (symmetric to a
  regression on a log scale: a 10 % threshold calls 1.1× slower and 1.1× faster changes).
- ``unchanged``: the whole CI lies within [1 / (1 + t), 1 + t]: any change is smaller than
  the threshold, with confidence 1 − alpha.
- ``inconclusive``: none of these — the interval reaches past the threshold but the evidence
  does not carry a verdict (too few or too noisy samples, or within-run evidence only).
- ``too few samples``: fewer than ``MIN_SAMPLES`` in either file; never a regression.

Only ``regression`` fails the gate, and a comparison of files with no benchmark in common is
bad input (exit 2), not a pass.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hyperf.bench.files import (
    BenchInputError,
    Benchmark,
    BenchmarkFile,
    load_benchmark_file,
    machine_differences,
    match,
)
from hyperf.bench.history import parse_file
from hyperf.bench.noise import History, RunNoise, load_history
from hyperf.bench.thresholds import Thresholds, ThresholdSettings, threshold_for
from hyperf.stats.comparison import (
    MIN_HISTORY_RUNS,
    history_ratio,
    holm_adjusted,
    processes_ratio,
    samples_ratio,
)

MIN_SAMPLES = 5
CONTROL_GROUP = "control"  # the controls' group is control-<device>

PROCESSES, HISTORY, WITHIN_RUN = "processes", "history", "within-run"

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


# --- the comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One benchmark's comparison. Medians in seconds (with several processes a side: the
    geometric mean of the process medians); ratio = NEW / BASE (controlled, when a control
    was used); the CI and p-value are None where they cannot be computed (too few samples)."""

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
    method: str  # processes, history or within-run (the module docstring)
    p_adjusted: float | None = None  # Holm-adjusted over the comparison's benchmarks
    history_runs: int | None = None  # stored runs behind the history's spread
    history_spread: float | None = None  # σ̂ of those runs (log units, ≈ relative)
    uncontrolled_ratio: float | None = None  # NEW / BASE before the control, when used
    control_ratio: float | None = None  # the controls' own NEW / BASE, when used
    is_control: bool = False
    note: str | None = None  # why a verdict is inconclusive, when the method decides it


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
    history: str | None = None  # the store used as noise model, and what it held
    control: bool = False

    def counts(self) -> dict[str, int]:
        """Benchmarks per verdict, in VERDICTS order, verdicts that occur only."""
        counted = Counter(c.verdict for c in self.comparisons)
        return {verdict: counted[verdict] for verdict in VERDICTS if counted[verdict]}

    @property
    def regressed(self) -> bool:
        return any(c.verdict == REGRESSION and not c.is_control for c in self.comparisons)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "comparisons"},
            "benchmarks": [asdict(c) for c in self.comparisons],
            "summary": self.counts(),
            "regression": self.regressed,
        }


def is_control(benchmark: Benchmark) -> bool:
    return (benchmark.group or "").startswith(CONTROL_GROUP + "-")


def _device(benchmark: Benchmark) -> str:
    """The device part of a group ``<family>-<device>`` (the suite's naming)."""
    return (benchmark.group or "").rpartition("-")[2]


def control_times(file: BenchmarkFile) -> dict[str, np.ndarray]:
    """Per device: each process's control time (s), the geometric mean of its controls'
    process medians. BenchInputError when the file holds no controls, or controls whose
    process counts differ."""
    by_device: dict[str, list[np.ndarray]] = {}
    for benchmark in file.benchmarks.values():
        if is_control(benchmark):
            medians = np.array([np.median(p) for p in benchmark.parts])
            by_device.setdefault(_device(benchmark), []).append(medians)
    if not by_device:
        raise BenchInputError(
            f"{file.path}: --control needs the control benchmarks (group {CONTROL_GROUP}-cpu "
            "or -gpu, tests/benchmarks/test_control.py) in every process; none are in it"
        )
    out = {}
    for device, controls in by_device.items():
        if len({len(c) for c in controls}) != 1:
            raise BenchInputError(
                f"{file.path}: the {CONTROL_GROUP}-{device} benchmarks ran in different numbers "
                "of processes; --control needs them in every process"
            )
        out[device] = np.exp(np.mean(np.log(controls), axis=0))
    return out


def controlled(benchmark: Benchmark, controls: dict[str, np.ndarray], path: str) -> Benchmark:
    """``benchmark`` with each process's samples divided by that process's control time
    (dimensionless); the benchmark itself when it is a control."""
    if is_control(benchmark):
        return benchmark
    device = _device(benchmark)
    parts = benchmark.parts
    if device not in controls or len(controls[device]) != len(parts):
        raise BenchInputError(
            f"{path}: benchmark {benchmark.key!r}: --control needs a {CONTROL_GROUP}-{device} "
            f"benchmark in each of its {len(parts)} process(es)"
        )
    scaled = tuple(np.sort(p / c) for p, c in zip(parts, controls[device], strict=True))
    return replace(
        benchmark,
        samples=np.sort(np.concatenate(scaled)),
        processes=scaled if benchmark.processes else (),
    )


def compare_benchmark(
    base: Benchmark,
    new: Benchmark,
    thresholds: Thresholds,
    noise: RunNoise | None = None,
    control: tuple[Benchmark, Benchmark] | None = None,
) -> Comparison:
    """Compare one matched pair (the rules in the module docstring). ``noise``: the
    benchmark's run-to-run spread from history; ``control``: the pair divided by each
    process's control time, on which the verdict is then taken."""
    threshold, pattern = threshold_for(new, thresholds)
    alpha, confidence = thresholds.alpha, 1 - thresholds.alpha
    plain = new.centre / base.centre
    tested_base, tested_new = control if control else (base, new)
    seed = zlib.crc32(base.key.encode())  # one fixed stream per benchmark
    ci_low = ci_high = p_value = None
    ratio, method = plain, WITHIN_RUN
    enough = min(len(base.samples), len(new.samples)) >= MIN_SAMPLES
    if enough and min(base.process_count, new.process_count) >= 2:
        method = PROCESSES
        ratio, ci_low, ci_high, p_value = processes_ratio(
            tested_base.processes, tested_new.processes, confidence, seed
        )
    elif enough and noise is not None:
        method = HISTORY
        ratio, ci_low, ci_high, p_value = history_ratio(
            np.log(tested_base.centre), np.log(tested_new.centre), noise.spread, noise.dof,
            confidence,
        )  # fmt: skip
    elif enough:
        ratio, ci_low, ci_high, p_value = samples_ratio(
            tested_base.samples, tested_new.samples, confidence, seed
        )
    comparison = Comparison(
        key=new.key,
        name=new.name,
        group=new.group,
        params=new.params,
        base_rounds=len(base.samples),
        new_rounds=len(new.samples),
        base_processes=base.process_count,
        new_processes=new.process_count,
        base_median_s=base.centre,
        new_median_s=new.centre,
        ratio=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        threshold=threshold,
        threshold_pattern=pattern,
        verdict=TOO_FEW,  # until judged on its p-value
        method=method,
        history_runs=noise.runs if method == HISTORY else None,
        history_spread=noise.spread if method == HISTORY else None,
        uncontrolled_ratio=plain if control else None,
        control_ratio=plain / (control[1].centre / control[0].centre) if control else None,
        is_control=is_control(new),
    )
    return judged(comparison, p_value, alpha) if p_value is not None else comparison


def judged(c: Comparison, p_adjusted: float, alpha: float) -> Comparison:
    """``c`` with its verdict from the (familywise adjusted) p-value: within-run evidence
    alone is never a regression or an improvement."""
    verdict = decide(c.ratio, c.ci_low, c.ci_high, p_adjusted, c.threshold, alpha)
    note = None
    if c.method == WITHIN_RUN and verdict in (REGRESSION, IMPROVEMENT):
        note = (
            f"one process a side, no history: looks like a {verdict} ({c.ratio - 1:+.1%}) "
            "within one process, which cannot tell code from drift; to decide, run "
            f"`hyperf bench ab`, compare merged multi-process files, or give --db with "
            f"≥ {MIN_HISTORY_RUNS} runs of it on this machine"
        )
        verdict = INCONCLUSIVE
    return replace(c, p_adjusted=p_adjusted, verdict=verdict, note=note)


def judge_family(comparisons: list[Comparison], alpha: float) -> list[Comparison]:
    """Every verdict again, on Holm-adjusted p-values over the benchmarks that have one (the
    controls aside): a rerun of the same code flags anything with probability ≤ alpha."""
    tested = [i for i, c in enumerate(comparisons) if c.p_value is not None and not c.is_control]
    adjusted = holm_adjusted([comparisons[i].p_value for i in tested])
    out = list(comparisons)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = judged(comparisons[i], p, alpha)
    return out


def compare_files(
    base_path: str | Path,
    new_path: str | Path,
    settings: ThresholdSettings,
    history_db: str | Path | None = None,
    control: bool = False,
) -> Report:
    """Load both files, match their benchmarks, compare each pair, check the machines.
    ``history_db``: a store of earlier runs (``hyperf bench import``) used as the noise model
    where a side holds one process; ``control``: divide by the control benchmarks first."""
    base, new = load_benchmark_file(base_path), load_benchmark_file(new_path)
    pairs, missing, added = match(base.benchmarks, new.benchmarks)
    if not pairs:
        raise BenchInputError(
            f"{new.path}: no benchmark in common with {base.path} ({len(base.benchmarks)} "
            f"in BASE, {len(new.benchmarks)} in NEW); a gate that compares nothing passes "
            "nothing: check that both ran the same suite"
        )
    history = None
    if history_db is not None:
        new_run_key = parse_file(new_path)["run"]["run_key"]
        history = load_history(history_db, new.machine_info, new_run_key)
    controls = (control_times(base), control_times(new)) if control else None
    thresholds = settings.thresholds
    comparisons = []
    for b, n in pairs:
        pair = None
        if controls:
            pair = (controlled(b, controls[0], base.path), controlled(n, controls[1], new.path))
        noise = history.noise.get(n.key) if history else None
        comparisons.append(compare_benchmark(b, n, thresholds, noise, pair))
    comparisons = judge_family(comparisons, thresholds.alpha)
    return Report(
        base_file=base.path,
        new_file=new.path,
        alpha=thresholds.alpha,
        confidence=1 - thresholds.alpha,
        thresholds_from=settings.source,
        comparisons=comparisons,
        missing=missing,
        new=added,
        machine_warnings=machine_differences(base.machine_info, new.machine_info),
        history=describe_history(history) if history else None,
        control=control,
    )


def describe_history(history: History) -> str:
    """What the store held for the noise model, for the report."""
    text = (
        f"{history.db}: {history.runs} run(s) on this machine, {len(history.noise)} "
        f"benchmark(s) with ≥ {MIN_HISTORY_RUNS} runs"
    )
    if history.short:
        text += f", {len(history.short)} with fewer (not used)"
    if history.other_machine_runs:
        text += (
            f"; warning: {history.other_machine_runs} run(s) from another machine not used "
            f"({history.other_machine_example})"
        )
    return text
