"""Compare two pytest-benchmark JSON files, benchmark by benchmark: pure functions, documented
by their maths and assumptions.

**Input.** A pytest-benchmark JSON file (``--benchmark-json FILE`` or ``--benchmark-save``)
written with ``--benchmark-save-data``, so that each benchmark's ``stats.data`` holds its raw
samples: seconds per call (pytest-benchmark divides each round by its iterations, so files
with different iteration counts compare). Summary statistics alone cannot carry a test.

**Model.** The samples of one benchmark in one file are treated as independent draws from one
distribution of times. They are not quite: they come from one process and share its state
(hyperf/measure/stats.py measured process medians differing by 4–8 % on a quiet 2-core
machine while each process's own CI was ±2–3 %). So a p-value here answers "did these two
processes differ?", not "did the code change?". The relative threshold is what absorbs
process-to-process drift; its default, 10 %, sits above the spread measured there. Drift can
be far larger: on a shared, loaded 2-core machine whole runs of a 240 µs benchmark came out
1.4× apart, and sub-microsecond benchmarks, whose iterations per round pytest-benchmark
calibrates anew in each run, moved by 40 %. Set per-group thresholds from repeated runs of
the same code on the machine that runs the gate.

**Effect.** r = median(NEW) / median(BASE), the ratio of medians (times are right-skewed; the
median ignores the interrupts and cache misses that drag the mean).

**Confidence interval of r.** Percentile bootstrap at level 1 − alpha: r* = median(NEW*) /
median(BASE*) over ``BOOTSTRAP_REPLICATES`` replicates, each side resampled independently
with replacement, with a fixed seed per benchmark so the same files always give the same
interval. Medians of resamples are drawn exactly but without building the resamples (see
``bootstrap_medians``), so a benchmark with 10⁶ rounds costs what one with 10 costs. Below
about 20 samples per side the percentile interval of a median covers less than it says
(0.90–0.94 for a nominal 0.95, hyperf/measure/stats.py); there the test below, exact for
small samples, is the stricter guard.

**Test.** Mann–Whitney U, two-sided (scipy's exact distribution for small samples without
ties, the normal approximation with tie correction otherwise), H0: a NEW sample is as likely
to be above a BASE sample as below. Two-sided at alpha, with the direction read from r, is
testing each direction at alpha / 2, so watching both directions does not double false alarms.

**Verdict**, with t the benchmark's relative threshold (``threshold_for``):

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
0.77–1.74× apart while each run's own CI was ±2 % — the single-process test above called 17 of
36 unchanged benchmarks regressions. ``hyperf bench merge`` (and ``scripts/bench.sh``, which
runs the suite in several processes) keeps each process's samples apart
(``extra_info["hyperf_process_rounds"]``). When both sides hold at least two processes, the
processes are the independent units, as in hyperf.measure.stats: r is the ratio of the
geometric means of the process medians, its CI the two-level bootstrap of
``hyperf.measure.stats.log_replicates`` (processes resampled, then samples within each,
widened to a Student-t interval with R − 1 degrees of freedom), and the test is Welch's t-test
on the log process medians. The verdict rules stay as above.
"""

from __future__ import annotations

import fnmatch
import json
import math
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import stats as scipy_stats

from hyperf.measure import stats

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport, if installed
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

DEFAULT_THRESHOLD = 0.10
DEFAULT_ALPHA = 0.01
MIN_SAMPLES = 5
BOOTSTRAP_REPLICATES = 10_000
BOOTSTRAP_SEED = 20_240_917

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
INCONCLUSIVE = "inconclusive"
TOO_FEW = "too few samples"
VERDICTS = (REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE, TOO_FEW)

SAVE_DATA_HINT = "rerun pytest with --benchmark-json FILE --benchmark-save-data"
PROCESS_ROUNDS = "hyperf_process_rounds"  # extra_info key: rounds of each merged process


class BenchInputError(ValueError):
    """A benchmark file or thresholds setting that cannot be used; the message names the file,
    the key and what is allowed."""


# --- loading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """One benchmark of one file: what identifies it and its raw samples (seconds, sorted)."""

    key: str
    name: str
    fullname: str
    group: str | None
    params: dict[str, Any] | None
    samples: np.ndarray = field(repr=False)
    processes: tuple[np.ndarray, ...] = field(default=(), repr=False)  # each sorted

    @property
    def process_count(self) -> int:
        return max(1, len(self.processes))


@dataclass(frozen=True)
class BenchmarkFile:
    path: str
    machine_info: dict[str, Any]
    benchmarks: dict[str, Benchmark]


def benchmark_key(entry: dict[str, Any]) -> str:
    """What matches a benchmark across files: pytest's node id (``fullname``, which holds the
    test file, the test and its parameter id), else the name plus its sorted parameters."""
    if entry.get("fullname"):
        return str(entry["fullname"])
    params = entry.get("params") or {}
    return str(entry["name"]) + (json.dumps(params, sort_keys=True, default=str) if params else "")


def load_benchmark_file(path: str | Path) -> BenchmarkFile:
    """Read a pytest-benchmark JSON file written with ``--benchmark-save-data``.

    Raises BenchInputError naming the file for a missing or unreadable file, text that is not
    JSON, JSON that is not a pytest-benchmark file, and benchmarks without usable raw samples.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchInputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise BenchInputError(f"{path}: not JSON (not UTF-8 text)") from None
    except OSError as error:
        raise BenchInputError(f"{path}: cannot read it ({error.strerror or error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BenchInputError(
            f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchInputError(
            f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list); {SAVE_DATA_HINT}"
        )
    benchmarks: dict[str, Benchmark] = {}
    for index, entry in enumerate(data["benchmarks"]):
        benchmark = _benchmark(path, index, entry)
        if benchmark.key in benchmarks:
            raise BenchInputError(f"{path}: benchmark {benchmark.key!r} appears twice")
        benchmarks[benchmark.key] = benchmark
    return BenchmarkFile(str(path), _dict(data.get("machine_info")), benchmarks)


def _benchmark(path: Path, index: int, entry: Any) -> Benchmark:
    where = f"{path}: benchmarks[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BenchInputError(f"{where}: not a benchmark (an object with a 'name' string)")
    where = f"{path}: benchmark {entry['name']!r}"
    stats = entry.get("stats")
    if not isinstance(stats, dict):
        raise BenchInputError(f"{where}: no 'stats' object; {SAVE_DATA_HINT}")
    if "data" not in stats:
        raise BenchInputError(
            f"{where}: no raw samples (stats.data); a comparison needs them: {SAVE_DATA_HINT}"
        )
    samples = stats["data"]
    allowed = "stats.data must be a non-empty list of times in seconds, each finite and > 0"
    if not isinstance(samples, list) or not samples:
        raise BenchInputError(f"{where}: {allowed}; got {_short(samples)}")
    for position, value in enumerate(samples):
        good = isinstance(value, int | float) and not isinstance(value, bool)
        if not good or not math.isfinite(value) or value <= 0:
            raise BenchInputError(f"{where}: {allowed}; stats.data[{position}] is {value!r}")
    params = entry.get("params")
    group = entry.get("group")
    values = np.asarray(samples, dtype=float)
    return Benchmark(
        key=benchmark_key(entry),
        name=entry["name"],
        fullname=str(entry.get("fullname") or entry["name"]),
        group=None if group is None else str(group),
        params=params if isinstance(params, dict) else None,
        samples=np.sort(values),
        processes=_processes(where, values, _dict(entry.get("extra_info")).get(PROCESS_ROUNDS)),
    )


def _processes(where: str, values: np.ndarray, rounds: Any) -> tuple[np.ndarray, ...]:
    """The samples split by process, as ``hyperf bench merge`` recorded them; () for one."""
    if rounds is None:
        return ()
    total = len(values)
    good = isinstance(rounds, list) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in rounds
    )
    if not good or sum(rounds) != total:
        raise BenchInputError(
            f"{where}: extra_info.{PROCESS_ROUNDS} must be a list of positive sample counts "
            f"summing to len(stats.data) = {total}; got {_short(rounds)}"
        )
    edges = np.cumsum(rounds)[:-1]
    return tuple(np.sort(part) for part in np.split(values, edges))


def merge_runs(runs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One pytest-benchmark document from runs of the same suite in separate processes
    (``(path, parsed JSON)`` pairs, each checked as ``load_benchmark_file`` checks a file):
    each benchmark's raw samples concatenated in run order, the rounds of each run in
    ``extra_info["hyperf_process_rounds"]``, and its summary statistics recomputed over all
    samples. Machine and commit info come from the first run; runs of different commits are
    refused, since their processes would not measure the same code."""
    if not runs:
        raise BenchInputError("merge: give at least one pytest-benchmark JSON file")
    first_path, first = runs[0]
    commit = _dict(first.get("commit_info")).get("id")
    merged: dict[str, dict[str, Any]] = {}
    for path, data in runs:
        if _dict(data.get("commit_info")).get("id") != commit:
            raise BenchInputError(
                f"{path}: commit_info.id must be the same in every merged run "
                f"({first_path} has {commit!r}); got {_dict(data.get('commit_info')).get('id')!r}"
            )
        for index, entry in enumerate(data["benchmarks"]):
            _benchmark(Path(path), index, entry)  # the same checks as a compared file
            key = benchmark_key(entry)
            data_s = [float(x) for x in entry["stats"]["data"]]
            rounds = _dict(entry.get("extra_info")).get(PROCESS_ROUNDS) or [len(data_s)]
            if key not in merged:
                merged[key] = json.loads(json.dumps(entry))  # a deep copy
                merged[key]["stats"]["data"] = []
                merged[key].setdefault("extra_info", {})[PROCESS_ROUNDS] = []
            merged[key]["stats"]["data"].extend(data_s)
            merged[key]["extra_info"][PROCESS_ROUNDS].extend(rounds)
    for entry in merged.values():
        entry["stats"].update(_summary(np.asarray(entry["stats"]["data"])))
    return {**first, "benchmarks": list(merged.values())}


def _summary(x: np.ndarray) -> dict[str, float | int]:
    """pytest-benchmark's summary fields that follow from the samples alone."""
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(x.mean()),
        "stddev": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "rounds": int(x.size),
        "total": float(x.sum()),
        "ops": float(1 / x.mean()),
    }


def read_json(path: str | Path) -> dict[str, Any]:
    """A pytest-benchmark JSON file, parsed, with the errors of ``load_benchmark_file``."""
    load_benchmark_file(path)
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def match(
    base: dict[str, Benchmark], new: dict[str, Benchmark]
) -> tuple[list[tuple[Benchmark, Benchmark]], list[str], list[str]]:
    """(pairs present in both, keys in BASE only, keys in NEW only), in the files' order."""
    pairs = [(benchmark, new[key]) for key, benchmark in base.items() if key in new]
    missing = [key for key in base if key not in new]
    added = [key for key in new if key not in base]
    return pairs, missing, added


# --- statistics ----------------------------------------------------------------------------


def bootstrap_medians(
    sorted_samples: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """Medians of ``replicates`` bootstrap resamples (n values drawn with replacement from the
    n sorted samples x(1) ≤ … ≤ x(n)), drawn exactly in O(replicates) time.

    A resample is x(⌈n·U_i⌉) for n uniforms U_i (the empirical quantile function), and that
    function is monotone, so the resample's k-th smallest value is x(⌈n·U(k)⌉), with U(k) the
    k-th smallest of n uniforms: U(k) ~ Beta(k, n − k + 1). For odd n the median is rank
    k = (n + 1)/2. For even n it averages ranks k = n/2 and k + 1; given U(k), the other n − k
    uniforms are uniform on (U(k), 1), so U(k+1) = U(k) + (1 − U(k))·Beta(1, n − k).
    """
    n = len(sorted_samples)
    k = (n + 1) // 2
    u_k = rng.beta(k, n - k + 1, size=replicates)
    lower = sorted_samples[_rank_index(u_k, n)]
    if n % 2:
        return lower
    u_next = u_k + (1 - u_k) * rng.beta(1, n - k, size=replicates)
    return (lower + sorted_samples[_rank_index(u_next, n)]) / 2


def _rank_index(u: np.ndarray, n: int) -> np.ndarray:
    """0-based index of x(⌈n·u⌉)."""
    return np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)


def median_ratio_ci(
    base_sorted: np.ndarray,
    new_sorted: np.ndarray,
    confidence: float,
    seed: int = BOOTSTRAP_SEED,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(NEW) / median(BASE) at ``confidence``."""
    rng = np.random.default_rng(seed)
    ratios = bootstrap_medians(new_sorted, replicates, rng) / bootstrap_medians(
        base_sorted, replicates, rng
    )
    tail = (1 - confidence) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return float(low), float(high)


def mann_whitney_p(base: np.ndarray, new: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value; 1.0 when every sample is tied (nothing to test)."""
    p = float(scipy_stats.mannwhitneyu(new, base, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


def two_level_log_centres(
    processes: tuple[np.ndarray, ...], confidence: float, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """Replicates of log(centre) for a benchmark run in several processes: the two-level
    bootstrap of ``hyperf.measure.stats.log_replicates`` (resample processes, then samples
    within each; widened by its k(R)), with each within-process median drawn exactly by
    ``bootstrap_medians`` so that thousands of rounds per process cost nothing."""
    count = len(processes)
    estimate = math.log(stats.centre(processes))
    picks = rng.integers(0, count, size=(replicates, count))
    total = np.zeros(replicates)
    for slot in range(count):  # a fresh within-process resample for every slot
        drawn = np.stack([np.log(bootstrap_medians(x, replicates, rng)) for x in processes])
        total += drawn[picks[:, slot], np.arange(replicates)]
    replicate = total / count
    return estimate + stats.inflation(count, confidence) * (replicate - estimate)


def process_ratio(
    base: Benchmark, new: Benchmark, confidence: float, seed: int
) -> tuple[float, float, float, float]:
    """(ratio, CI low, CI high, p) with processes as the independent units (module docstring):
    ratio of centres, two-level percentile interval, Welch's t-test on log process medians."""
    rng = np.random.default_rng(seed)
    ratio = stats.centre(new.processes) / stats.centre(base.processes)
    replicates = BOOTSTRAP_REPLICATES
    log_ratios = two_level_log_centres(
        new.processes, confidence, replicates, rng
    ) - two_level_log_centres(base.processes, confidence, replicates, rng)
    tail = (1 - confidence) / 2
    low, high = np.exp(np.quantile(log_ratios, [tail, 1 - tail]))
    log_medians = [np.log([np.median(x) for x in side.processes]) for side in (new, base)]
    p = float(scipy_stats.ttest_ind(*log_medians, equal_var=False).pvalue)
    return ratio, float(low), float(high), 1.0 if math.isnan(p) else p


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


# --- thresholds ----------------------------------------------------------------------------

Threshold = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Alpha = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]

ALLOWED = {
    "default": "a relative threshold: a number ≥ 0 (0.05 means 5 % slower)",
    "groups": "a table of pattern = relative threshold (a number ≥ 0)",
    "alpha": "a significance level: a number between 0 and 1, e.g. 0.01",
}


class Thresholds(BaseModel):
    """How much slower a benchmark may get (a fraction), by group, and the test's level.

    ``groups`` maps fnmatch patterns to thresholds; a benchmark takes the first pattern, in
    the file's order, that matches its pytest-benchmark group, its name or its fullname, and
    ``default`` when none does."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    default: Threshold = DEFAULT_THRESHOLD
    alpha: Alpha = DEFAULT_ALPHA
    groups: dict[str, Threshold] = {}


@dataclass(frozen=True)
class ThresholdSettings:
    thresholds: Thresholds
    source: str  # where they came from, for the report


def threshold_for(benchmark: Benchmark, thresholds: Thresholds) -> tuple[float, str | None]:
    """(threshold, the pattern that chose it or None for the default)."""
    names = [n for n in (benchmark.group, benchmark.name, benchmark.fullname) if n is not None]
    for pattern, threshold in thresholds.groups.items():
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return threshold, pattern
    return thresholds.default, None


def load_thresholds(
    path: str | Path | None,
    search_dir: str | Path = ".",
    alpha: float | None = None,
    default: float | None = None,
) -> ThresholdSettings:
    """Thresholds from ``path`` (TOML, or YAML by its .yaml/.yml suffix; a pyproject.toml's
    ``[tool.hyperf.bench]`` table when it has one) or, without a path, from
    ``[tool.hyperf.bench]`` in ``search_dir``/pyproject.toml, else the built-in defaults.
    ``alpha`` and ``default`` (the command line's --alpha and --threshold) override them."""
    if path is not None:
        path = Path(path)
        data, source = _table(_read_config(path), path), str(path)
    else:
        data, source = _pyproject_table(Path(search_dir) / "pyproject.toml")
    thresholds = _validate(data, source)
    for option, key, value in (("--alpha", "alpha", alpha), ("--threshold", "default", default)):
        if value is not None:
            thresholds = _validate({**thresholds.model_dump(), key: value}, option, bare=True)
            source += f", {option} {value:g}"
    return ThresholdSettings(thresholds, source)


def _pyproject_table(pyproject: Path) -> tuple[Any, str]:
    """(``[tool.hyperf.bench]`` of a pyproject.toml, where it came from), or the defaults."""
    if pyproject.is_file():
        tool = _dict(_read_config(pyproject, optional=True).get("tool"))
        hyperf = _dict(tool.get("hyperf"))
        if "bench" in hyperf:
            return hyperf["bench"], f"{pyproject} [tool.hyperf.bench]"
    return {}, "built-in defaults"


def _read_config(path: Path, optional: bool = False) -> dict[str, Any]:
    """The mapping in a TOML or YAML file. ``optional``: a pyproject.toml read only to look
    for our table; without a TOML reader it is skipped unless it mentions tool.hyperf."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BenchInputError(f"{path}: cannot read it ({error})") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise BenchInputError(f"{path}: not valid YAML ({error})") from None
    else:
        if tomllib is None:
            if optional and "tool.hyperf" not in text:
                return {}
            raise BenchInputError(
                f"{path}: reading TOML needs Python ≥ 3.11 or the tomli package "
                "(pip install tomli); or give --thresholds FILE.yaml"
            )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise BenchInputError(f"{path}: not valid TOML ({error})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BenchInputError(f"{path}: must be a table of keys: default, alpha, groups")
    return data


def _table(data: dict[str, Any], path: Path) -> Any:
    """The thresholds inside a file given with --thresholds: the file itself, or its
    ``[tool.hyperf.bench]`` table when it is a pyproject.toml."""
    if "tool" not in data:
        return data
    try:
        return data["tool"]["hyperf"]["bench"]
    except (KeyError, TypeError):
        raise BenchInputError(f"{path}: has a [tool] table but no [tool.hyperf.bench]") from None


def _validate(data: Any, where: str, bare: bool = False) -> Thresholds:
    """Thresholds from ``data``, or a BenchInputError naming ``where``, each bad key and what it
    allows. ``bare``: ``where`` is itself the key (a command-line option)."""
    if not isinstance(data, dict):
        raise BenchInputError(f"{where}: must be a table of keys: {', '.join(ALLOWED)}")
    try:
        return Thresholds.model_validate(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            key = ".".join(str(part) for part in e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown key; allowed: {', '.join(ALLOWED)}")
                continue
            top = str(e["loc"][0]) if e["loc"] else ""
            allowed = ALLOWED["default"] if len(e["loc"]) > 1 else ALLOWED.get(top, e["msg"])
            named = "" if bare else f"{key}: "
            problems.append(f"{named}must be {allowed}; got {_short(e['input'])}")
        raise BenchInputError(f"{where}: " + "; ".join(problems)) from None


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
    hyperf_keys = {*_dict(base.get("hyperf")), *_dict(new.get("hyperf"))}
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
        value = _dict(value).get(part)
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
        base_median, new_median = stats.centre(base.processes), stats.centre(new.processes)
        ratio, ci_low, ci_high, p_value = process_ratio(base, new, confidence, seed)
        verdict = decide(ratio, ci_low, ci_high, p_value, threshold, thresholds.alpha)
    else:
        ci_low, ci_high = median_ratio_ci(base.samples, new.samples, confidence, seed=seed)
        p_value = mann_whitney_p(base.samples, new.samples)
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
