"""Device ceilings (measured matmul rate and copy bandwidth) and the roofline.

``calibrate`` measures, with the same timer as every other number, the two rates that bound
any kernel: dense matmul FLOP/s per dtype and copy bandwidth (bytes read + written per
second). ``roofline`` turns a point's FLOPs, bytes and time into the bound (``roofline_bound``,
the one definition every roofline in hyperf uses) and the fraction of it achieved:

    intensity = FLOPs / bytes          bound_s = max(FLOPs / peak_rate(dtype), bytes / bandwidth)
    fraction  = bound_s / measured_s   (1.0 means the point runs at the roofline)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

import torch

from hyperf.device import resolve_device
from hyperf.envinfo import capture
from hyperf.files import check_regular
from hyperf.format import achieved_gbps, achieved_tflops
from hyperf.measure.timing import TimingOptions, measure

MATMUL_SIZE = {"cpu": 2048, "cuda": 8192}  # the largest square matmul calibration uses
TARGET_CALL_S = 0.05  # ...shrunk so one call takes about this long (CPU bf16 can be 100× slower)
COPY_BYTES = {"cpu": 256 * 2**20, "cuda": 2 * 2**30}


@dataclass
class Ceilings:
    device: str
    device_name: str
    fingerprint: str
    threads: int
    matmul_flops: dict[str, float] = field(default_factory=dict)  # dtype -> FLOP/s
    copy_bytes_per_s: float = 0.0  # bytes read + written per second

    def as_dict(self) -> dict:
        return asdict(self)


def device_fingerprint(device: torch.device) -> str:
    """Identifies the hardware and thread count the ceilings were measured with."""
    env = capture()
    key = f"{device.type}|{env['device_name']}|{torch.get_num_threads()}|{env['allocator']}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def default_dtypes(device: torch.device) -> list[str]:
    return (
        ["float32", "bfloat16"]
        if device.type == "cpu"
        else ["float32", "tf32", "float16", "bfloat16"]
    )


def calibrate(
    device: str | torch.device = "auto",
    dtypes: list[str] | None = None,
    options: TimingOptions | None = None,
) -> Ceilings:
    """Measure the matmul rate per dtype and the copy bandwidth on ``device``."""
    device = resolve_device(device)
    options = options or TimingOptions(budget_s=1.0)
    env = capture()
    result = Ceilings(
        str(device), env["device_name"], device_fingerprint(device), torch.get_num_threads()
    )
    for name in dtypes or default_dtypes(device):
        dtype = torch.float32 if name == "tf32" else getattr(torch, name, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {name!r} for calibration")
        size = _matmul_size(device, dtype)
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
        try:
            timing = measure(lambda a=a, b=b: a @ b, device=device, mode="infer", options=options)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
        result.matmul_flops[name] = 2 * size**3 / (timing.stats.median / 1e3)
    numel = COPY_BYTES[device.type] // 4
    src, dst = torch.randn(numel, device=device), torch.empty(numel, device=device)
    timing = measure(lambda: dst.copy_(src), device=device, mode="infer", options=options)
    result.copy_bytes_per_s = 2 * numel * 4 / (timing.stats.median / 1e3)
    return result


def _matmul_size(device: torch.device, dtype: torch.dtype) -> int:
    """Largest power-of-two size ≤ MATMUL_SIZE whose matmul takes about TARGET_CALL_S."""
    size = 256
    while size < MATMUL_SIZE[device.type]:
        a = torch.randn(size, size, device=device).to(dtype)
        seconds = (
            measure(
                lambda a=a: a @ a,
                device=device,
                mode="infer",
                options=TimingOptions(budget_s=0.05, min_samples=1, warmup_s=0, min_warmup_calls=0),
            ).stats.median
            / 1e3
        )
        if seconds * 8 > TARGET_CALL_S:  # doubling the size costs 8×
            break
        size *= 2
    return size


class Bound(NamedTuple):
    seconds: float
    bound_by: str  # "compute" or "memory"; "" when a count is missing


def roofline_bound(flops: float, bytes_moved: float, peak_flops: float, bandwidth: float) -> Bound:
    """The least time a kernel can take: its FLOPs at ``peak_flops`` or its bytes at
    ``bandwidth``, whichever is slower. The one definition of the roofline bound: measured
    fractions, the dry-run's and the GPU model's predictions all call it. NaN if a count is."""
    compute_s, memory_s = flops / peak_flops, bytes_moved / bandwidth
    if math.isnan(compute_s) or math.isnan(memory_s):
        return Bound(math.nan, "")
    return Bound(max(compute_s, memory_s), "compute" if compute_s >= memory_s else "memory")


# A point is overhead-bound when its device (CUDA kernels) or operator (CPU) time is under
# this share of its wall time: the rest is Python, dispatch and launches, not the operator.
OVERHEAD_SHARE = 0.5


def bound_class(wall_s: float, device_s: float | None, floor: Bound) -> str:
    """The one rule for what bounds a point: ``overhead`` when the device (or operator) time
    is under ``OVERHEAD_SHARE`` of the wall time; otherwise the ceiling its roofline floor
    comes from (``memory`` or ``compute``); "" when neither is known."""
    known = device_s is not None and math.isfinite(device_s) and wall_s > 0
    if known and device_s < OVERHEAD_SHARE * wall_s:
        return "overhead"
    return floor.bound_by


def peak_rate(ceilings: Ceilings | dict, dtype: str) -> float:
    """The calibrated matmul rate for ``dtype``, float32's when ``dtype`` was not calibrated.
    ``ceilings`` is a ``Ceilings`` or its dict (as a run stores it)."""
    rates = ceilings.matmul_flops if isinstance(ceilings, Ceilings) else ceilings["matmul_flops"]
    peak = rates.get(dtype) or rates.get("float32")
    if not peak:
        raise ValueError(f"ceilings have no matmul rate for {dtype!r} or float32")
    return float(peak)


def roofline(
    flops: float,
    bytes_moved: float,
    seconds: float,
    ceilings: Ceilings | dict,
    dtype: str = "float32",
) -> dict:
    """Arithmetic intensity, the roofline bound at ``dtype``'s peak, and the achieved
    fraction of it. ``ceilings`` is a ``Ceilings`` or its dict (as a run stores it)."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive; got {seconds}")
    bandwidth = (
        ceilings.copy_bytes_per_s
        if isinstance(ceilings, Ceilings)
        else ceilings["copy_bytes_per_s"]
    )
    bound = roofline_bound(flops, bytes_moved, peak_rate(ceilings, dtype), bandwidth)
    return {
        "intensity": flops / bytes_moved if bytes_moved else float("inf"),
        "achieved_tflops": achieved_tflops(flops, seconds),
        "achieved_gbps": achieved_gbps(bytes_moved, seconds),
        "bound_s": bound.seconds,
        "roofline_fraction": bound.seconds / seconds,
        "bound_by": bound.bound_by,
    }


def cache_path() -> Path:
    root = os.environ.get("HYPERF_CACHE_DIR") or Path.home() / ".cache" / "hyperf"
    return Path(root) / "ceilings.json"


def _rate(value: object, what: str) -> float:
    """A measured rate: a finite number > 0 (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} is {value!r}, not a number")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} is {value!r}; a rate must be a finite number > 0")
    return float(value)


def parse_ceilings(entry: object) -> Ceilings:
    """The one check of a ceilings record (a cache entry, or a run's stored copy): the
    Ceilings fields and no others, names as text, a thread count ≥ 1, every rate a finite
    number > 0. ValueError naming the first thing wrong. A dry run must not predict from a
    rate of 0, nor a report format a string as a rate."""
    if not isinstance(entry, dict):
        raise ValueError(f"the entry is {type(entry).__name__}, not a mapping")
    names = {f.name for f in fields(Ceilings)}
    if missing := sorted(names - entry.keys()):
        raise ValueError(f"the entry lacks {', '.join(missing)}")
    if extra := sorted(map(str, entry.keys() - names)):
        raise ValueError(f"the entry has unknown keys {', '.join(extra)}")
    for name in ("device", "device_name", "fingerprint"):
        if not isinstance(entry[name], str):
            raise ValueError(f"{name} is {entry[name]!r}, not text")
    threads = entry["threads"]
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads is {threads!r}, not a whole number ≥ 1")
    rates = entry["matmul_flops"]
    if not isinstance(rates, dict) or not rates:
        raise ValueError(f"matmul_flops is {rates!r}, not a mapping of dtype to FLOP/s")
    return Ceilings(
        entry["device"],
        entry["device_name"],
        entry["fingerprint"],
        threads,
        {str(k): _rate(v, f"matmul_flops[{k!r}]") for k, v in rates.items()},
        _rate(entry["copy_bytes_per_s"], "copy_bytes_per_s"),
    )


def _read_table(path: Path) -> dict:
    """The cache's table of entries by fingerprint; ValueError naming what is wrong with it
    (not a regular file, not JSON, not a JSON object)."""
    check_regular(path, "the ceilings cache")
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not valid JSON ({error})") from None
    if not isinstance(table, dict):
        raise ValueError(f"a JSON {type(table).__name__}, not an object of device entries")
    return table


def _ignored(path: Path, why: str) -> None:
    """A broken cache is named and ignored, never fatal: it is not input the user gave."""
    print(
        f"warning: {path}: {why}; ignored (`hyperf calibrate` measures this device again)",
        file=sys.stderr,
    )


def save_ceilings(ceilings: Ceilings, path: Path | None = None) -> Path:
    """Store under the device fingerprint, next to other devices' ceilings (atomic replace).
    A cache that cannot be read as a table is replaced (it was being ignored anyway); a
    special file there is refused, not replaced."""
    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    check_regular(path, "the ceilings cache (HYPERF_CACHE_DIR)")
    table: dict = {}
    if path.exists():
        try:
            table = _read_table(path)
        except ValueError as error:
            _ignored(path, f"{error}; replaced by this calibration")
    table[ceilings.fingerprint] = ceilings.as_dict()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=2))
    tmp.replace(path)
    return path


def load_ceilings(device: str | torch.device = "auto", path: Path | None = None) -> Ceilings | None:
    """The ceilings calibrated earlier for this device and thread count, if any. A cache or
    entry that is not what ``save_ceilings`` writes (``parse_ceilings``) is named on stderr
    and treated as absent: the sweep runs uncalibrated, ``calibrate --if-missing`` measures."""
    path = path or cache_path()
    if not os.path.lexists(path):
        return None
    try:
        table = _read_table(path)
    except (OSError, ValueError) as error:
        _ignored(path, str(error).removeprefix(f"{path} "))
        return None
    fingerprint = device_fingerprint(resolve_device(device))
    if fingerprint not in table:
        return None
    try:
        return parse_ceilings(table[fingerprint])
    except ValueError as error:
        _ignored(path, f"entry {fingerprint}: {error}")
        return None
