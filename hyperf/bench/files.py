"""pytest-benchmark JSON files: read and check one (``load_benchmark_file``), match two
(``match``), merge runs of the suite in separate processes into one (``merge_runs``).

A file compared must be written with ``--benchmark-save-data`` (``--benchmark-json FILE`` or
``--benchmark-save``), so that each benchmark's ``stats.data`` holds its raw samples: seconds
per call (pytest-benchmark divides each round by its iterations, so files with different
iteration counts compare). Summary statistics alone cannot carry a test. A merged file keeps
each process's samples apart in ``extra_info["hyperf_process_rounds"]``.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hyperf.files import check_regular
from hyperf.stats.bootstrap import centre

SAVE_DATA_HINT = "rerun pytest with --benchmark-json FILE --benchmark-save-data"
PROCESS_ROUNDS = "hyperf_process_rounds"  # extra_info key: rounds of each merged process


class BenchInputError(ValueError):
    """A benchmark file or thresholds setting that cannot be used; the message names the file,
    the key and what is allowed."""


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

    @property
    def parts(self) -> tuple[np.ndarray, ...]:
        """The samples by process: the merged processes, or all samples as one."""
        return self.processes or (self.samples,)

    @functools.cached_property
    def centre(self) -> float:
        """The benchmark's time (s): the geometric mean of its process medians."""
        return centre(self.parts)


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
    check_regular(path, "a pytest-benchmark JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BenchInputError(f"{path}: a directory, not a JSON file") from None
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
    return BenchmarkFile(str(path), dict_or_empty(data.get("machine_info")), benchmarks)


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
        raise BenchInputError(f"{where}: {allowed}; got {short_repr(samples)}")
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
        processes=_processes(
            where, values, dict_or_empty(entry.get("extra_info")).get(PROCESS_ROUNDS)
        ),
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
            f"summing to len(stats.data) = {total}; got {short_repr(rounds)}"
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
    commit = dict_or_empty(first.get("commit_info")).get("id")
    merged: dict[str, dict[str, Any]] = {}
    for path, data in runs:
        other = dict_or_empty(data.get("commit_info")).get("id")
        if other != commit:
            raise BenchInputError(
                f"{path}: commit_info.id must be the same in every merged run "
                f"({first_path} has {commit!r}); got {other!r}"
            )
        for index, entry in enumerate(data["benchmarks"]):
            _benchmark(Path(path), index, entry)  # the same checks as a compared file
            key = benchmark_key(entry)
            data_s = [float(x) for x in entry["stats"]["data"]]
            rounds = dict_or_empty(entry.get("extra_info")).get(PROCESS_ROUNDS) or [len(data_s)]
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


def dict_or_empty(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty one (for optional JSON objects)."""
    return value if isinstance(value, dict) else {}


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to 40 characters for an error message."""
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


# --- machines ------------------------------------------------------------------------------

# machine_info keys that decide speed. hyperf's pytest plugin adds machine_info["hyperf"]
# (device, gpu_name, gpu_capability, torch, cuda, threads, ...): every key of it counts but
# hyperf's own version, which is the code under test, not the machine.
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
    hyperf_keys.discard("hyperf")
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
