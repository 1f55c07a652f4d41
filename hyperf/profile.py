"""Profiles: where one step's time goes, as files a person opens and tables hyperf stores.

``profile_workload`` runs a workload's mode under ``torch.profiler`` for a few steps and
writes into one folder:
- ``trace.json.gz``: the Chrome trace of the active steps (open it in ui.perfetto.dev);
- ``tb/``: the same trace as a TensorBoard run (``tensorboard --logdir DIR/tb``, PyTorch
  Profiler tab: overview, operators, trace, memory);
- ``breakdown.csv``: time per category of ``hyperf/ops/regions.py`` per step;
- ``ops.csv``: operators by self time, with their input shapes;
- ``memory.csv`` / ``memory.png``: allocated bytes over the profiled steps, from the
  profiler's ``[memory]`` events (``export_memory_timeline`` is deprecated and needs stacks);
  on CUDA also ``memory.pickle``, an allocator snapshot for pytorch.org/memory_viz;
- on CUDA, ``hta_kernels.csv`` / ``hta_idle.csv``: Holistic Trace Analysis' kernel-type
  breakdown and GPU idle time, when the ``hta`` extra is installed.

The profiler's own overhead is in every number here: a profile says which stage takes the
time, the timer (``hyperf.measure.timing``) says how long the step takes.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, record_function, schedule, tensorboard_trace_handler

from hyperf import registry
from hyperf.device import resolve_device, synchronize
from hyperf.files import OutputError
from hyperf.measure.timing import BACKWARD_MODES, make_step, reset_grads
from hyperf.ops.regions import CATEGORIES, PREFIX
from hyperf.workload import MODES, Workload

STEP_RANGE = "hyperf step"  # one step's timed work; not a category (no "hyperf/" prefix)
BACKWARD_RANGE = "autograd::engine::evaluate_function"  # autograd runs one backward node
BACKWARD = "backward"
OTHER = "other"
SEED = 0


@dataclass(frozen=True)
class ProfileOptions:
    """Steps of ``torch.profiler.schedule`` and what the profiler records. The first call
    (cuFFT plans, Triton compilation) lands in the ``wait`` or ``warmup`` steps, which are
    not kept."""

    wait: int = 1
    warmup: int = 2
    active: int = 3
    with_stack: bool = False
    record_shapes: bool = True
    profile_memory: bool = True

    def __post_init__(self) -> None:
        if self.wait < 0 or self.warmup < 0 or self.active < 1:
            raise ValueError(
                f"profile steps need wait ≥ 0, warmup ≥ 0, active ≥ 1; got wait={self.wait}, "
                f"warmup={self.warmup}, active={self.active}"
            )


@dataclass
class Profile:
    """What a profile found, per profiled step, and the files it wrote."""

    out_dir: Path
    breakdown: pd.DataFrame  # category, cpu_ms, device_ms, share (of the step)
    ops: pd.DataFrame  # name, count, self_cpu_ms, self_device_ms, input_shapes
    step_ms: float  # wall time of one profiled step (mean over the active steps)
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def profile_workload(
    workload: Workload,
    mode: str,
    device: torch.device,
    out_dir: Path,
    options: ProfileOptions = ProfileOptions(),
) -> Profile:
    """Profile ``options.active`` steps of ``workload`` in ``mode`` on ``device`` into
    ``out_dir`` (created; earlier profile files there are replaced)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    device = resolve_device(device)
    out_dir = prepare_folder(Path(out_dir))
    tb_dir = out_dir / "tb"
    for old in tb_dir.glob("*.pt.trace.json*"):  # one profile per folder: TensorBoard shows one
        old.unlink()

    module, u = workload.instantiate(device, seed=SEED, requires_grad=mode in BACKWARD_MODES)
    prepare, timed = make_step(lambda: module(u), mode, SEED)
    resettable = [*module.parameters(), u]
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.memory._record_memory_history(max_entries=200_000)
    worker = f"{workload.op.replace(':', '-')}-L{workload.seq_len}-{mode}"
    profiler = torch.profiler.profile(
        activities=activities,
        # One cycle: with the default (repeat forever) and wait=0, the last step() opens the
        # next cycle's warm-up, and the events read after the loop are that empty session's.
        schedule=schedule(
            wait=options.wait, warmup=options.warmup, active=options.active, repeat=1
        ),
        on_trace_ready=tensorboard_trace_handler(str(tb_dir), worker_name=worker, use_gzip=True),
        record_shapes=options.record_shapes,
        profile_memory=options.profile_memory,
        with_stack=options.with_stack,
    )
    try:
        with torch.set_grad_enabled(mode != "infer"), profiler:
            for _ in range(options.wait + options.warmup + options.active):
                reset_grads(resettable)
                prepare()  # bwd: the forward, outside the step's range
                synchronize(device)
                with record_function(STEP_RANGE):
                    timed()
                    synchronize(device)  # the step ends when the device's work does
                profiler.step()
        if device.type == "cuda":
            torch.cuda.memory._dump_snapshot(str(out_dir / "memory.pickle"))
    finally:
        if device.type == "cuda":
            torch.cuda.memory._record_memory_history(enabled=None)
        reset_grads(resettable)

    events = event_table(profiler, device)
    steps = events[events["name"] == STEP_RANGE]
    step_ms = float((steps["end_us"] - steps["start_us"]).mean() / 1e3)
    profile = Profile(
        out_dir=out_dir,
        breakdown=breakdown(events, device),
        ops=operator_table(events, device),
        step_ms=step_ms,
    )
    traces = sorted(tb_dir.glob(f"{worker}*.pt.trace.json.gz"))
    shutil.copyfile(traces[-1], out_dir / "trace.json.gz")
    profile.files.update(trace=out_dir / "trace.json.gz", tb=tb_dir)
    profile.breakdown.to_csv(out_dir / "breakdown.csv", index=False)
    profile.ops.to_csv(out_dir / "ops.csv", index=False)
    profile.files.update(breakdown=out_dir / "breakdown.csv", ops=out_dir / "ops.csv")
    trace = json.loads(gzip.decompress((out_dir / "trace.json.gz").read_bytes()))
    memory = memory_timeline(trace, device)
    if memory.empty:
        profile.notes.append("no memory events in the trace (profile_memory off?)")
    else:
        memory.to_csv(out_dir / "memory.csv", index=False)
        plot_memory(memory, workload, mode, device, out_dir / "memory.png")
        profile.files.update(memory_csv=out_dir / "memory.csv", memory=out_dir / "memory.png")
    if device.type == "cuda":
        profile.files["memory_snapshot"] = out_dir / "memory.pickle"
    profile.notes.extend(_notes(workload, device))
    if device.type == "cuda":
        profile.notes.extend(hta_analysis(tb_dir, out_dir, profile.files))
    else:
        profile.notes.append("HTA kernel breakdown skipped: CPU trace has no GPU kernels")
    return profile


# The files a profile writes into its folder (beside tb/), for checking them first.
FILES = ("trace.json.gz", "breakdown.csv", "ops.csv", "memory.csv", "memory.png", "memory.pickle")


def prepare_folder(out_dir: Path) -> Path:
    """Create ``out_dir``; raise OutputError (a ValueError) when it cannot hold the files."""
    if str(out_dir).strip() in ("", "."):
        raise OutputError("the profile folder is empty; give a folder name")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} is a file, not a folder; give a folder for the profile")
    for parent in out_dir.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{out_dir}: {parent} is a file, not a folder")
    try:
        (out_dir / "tb").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{out_dir}: cannot create the folder: {error.strerror}") from None
    if not os.access(out_dir / "tb", os.W_OK | os.X_OK):
        raise OutputError(f"{out_dir}: the folder is not writable")
    return out_dir


def event_table(profiler: torch.profiler.profile, device: torch.device) -> pd.DataFrame:
    """The host-side events of the active steps: name, thread, start/end (µs), self CPU time,
    and ``kernel_us``: the device time of the kernels the operator itself launched. A range
    (``record_function``) gets none: torch adds the range's own device-side annotation to it
    as if it were a kernel (pytorch#130730), so a range's device time is summed from the
    operators inside it instead."""
    rows = [
        {
            "name": e.name,
            "thread": e.thread,
            "start_us": e.time_range.start,
            "end_us": e.time_range.end,
            "self_cpu_us": e.self_cpu_time_total,
            "kernel_us": 0.0
            if e.is_user_annotation or device.type != "cuda"
            else float(sum(kernel.duration for kernel in e.kernels)),
            "input_shapes": str(e.input_shapes) if e.input_shapes else "",
        }
        for e in profiler.events()
        if e.device_type == DeviceType.CPU
    ]
    return pd.DataFrame(rows)


def _category(name: str) -> str | None:
    if name.startswith(PREFIX):
        return name.removeprefix(PREFIX)
    return BACKWARD if name.startswith(BACKWARD_RANGE) else None


def _in_steps(events: pd.DataFrame) -> pd.Series:
    """Which events lie inside a step's range (by time: on CUDA the backward runs on the
    autograd engine's own thread, not under the step's range in the caller's thread)."""
    steps = events[events["name"] == STEP_RANGE]
    inside = pd.Series(False, index=events.index)
    for start, end in zip(steps["start_us"], steps["end_us"], strict=True):
        inside |= (events["start_us"] >= start) & (events["end_us"] <= end)
    return inside & (events["name"] != STEP_RANGE)


def breakdown(events: pd.DataFrame, device: torch.device) -> pd.DataFrame:
    """Time per category per step: one row per category seen, in ``CATEGORIES`` order, then
    ``backward`` and ``other``.

    A category's time is that of its ``hyperf/<category>`` ranges (CPU: their wall time;
    device: the kernels launched inside them). Only outermost ranges count, so nothing is
    counted twice. ``backward`` is every autograd backward node (``evaluate_function``):
    the backward runs outside the forward's ranges, and a node's stage is not known, so it
    is not spread over the forward's categories. ``other`` is the step minus all of those,
    and is not zero: Python and module-call overhead between the ranges, work the operator
    does not wrap in a region (``mlp``/``norm`` of an uninstrumented stack), the allocator,
    and, on a GPU, the time it waits idle for the host.
    """
    steps = events[events["name"] == STEP_RANGE]
    n_steps = max(len(steps), 1)
    step_ms = float((steps["end_us"] - steps["start_us"]).sum() / 1e3 / n_steps)
    ranges = events.assign(category=events["name"].map(_category))
    ranges = ranges[ranges["category"].notna() & _in_steps(events)]
    kept = []  # outermost ranges per thread: a range starting before the last kept one ends
    for _, group in ranges.sort_values(["thread", "start_us", "end_us"]).groupby("thread"):
        last_end = -math.inf
        for row in group.itertuples():
            if row.start_us >= last_end:
                kept.append(row)
                last_end = row.end_us
    on_device = device.type == "cuda"
    totals: dict[str, list[float]] = {}
    for row in kept:
        inside = (
            (events["thread"] == row.thread)
            & (events["start_us"] >= row.start_us)
            & (events["end_us"] <= row.end_us)
        )
        cpu_device = totals.setdefault(row.category, [0.0, 0.0])
        cpu_device[0] += (row.end_us - row.start_us) / 1e3 / n_steps
        cpu_device[1] += events.loc[inside, "kernel_us"].sum() / 1e3 / n_steps
    order = [*CATEGORIES, BACKWARD]
    names = sorted(totals, key=lambda c: (order.index(c) if c in order else len(order), c))
    rows = [
        {"category": c, "cpu_ms": totals[c][0], "device_ms": totals[c][1] if on_device else None}
        for c in names
    ]
    rows.append(
        {
            "category": OTHER,
            "cpu_ms": step_ms - sum(r["cpu_ms"] for r in rows),
            "device_ms": step_ms - sum(r["device_ms"] for r in rows) if on_device else None,
        }
    )
    table = pd.DataFrame(rows, columns=["category", "cpu_ms", "device_ms"]).astype(
        {"cpu_ms": float, "device_ms": float}
    )
    table["share"] = table["device_ms" if on_device else "cpu_ms"] / step_ms
    return table


def operator_table(events: pd.DataFrame, device: torch.device) -> pd.DataFrame:
    """Operators (and ranges) inside the steps by self time per step, heaviest first; the
    same operator at different input shapes is a row each. ``count`` is calls per step."""
    n_steps = max(int((events["name"] == STEP_RANGE).sum()), 1)
    inside = events[_in_steps(events)]
    table = (
        inside.groupby(["name", "input_shapes"], as_index=False)
        .agg(
            count=("name", "size"),
            self_cpu_ms=("self_cpu_us", "sum"),
            self_device_ms=("kernel_us", "sum"),
        )
        .assign(
            count=lambda t: t["count"] / n_steps,
            self_cpu_ms=lambda t: t["self_cpu_ms"] / 1e3 / n_steps,
            self_device_ms=lambda t: t["self_device_ms"] / 1e3 / n_steps,
        )
    )
    if device.type != "cuda":
        table["self_device_ms"] = float("nan")
    key = "self_device_ms" if device.type == "cuda" else "self_cpu_ms"
    columns = ["name", "count", "self_cpu_ms", "self_device_ms", "input_shapes"]
    return table.sort_values(key, ascending=False)[columns].reset_index(drop=True)


def memory_timeline(trace: dict, device: torch.device) -> pd.DataFrame:
    """Bytes allocated on ``device`` after each allocation or free in a Chrome trace (its
    ``[memory]`` events), in ms from the first profiled step. The allocator counts from when
    the profiler started: memory held from before (parameters, inputs) is not in it."""
    device_type, index = (1, device.index or 0) if device.type == "cuda" else (0, -1)
    events = trace.get("traceEvents", [])
    starts = [e["ts"] for e in events if e.get("name") == STEP_RANGE]
    rows = [
        {
            "time_ms": e["ts"],
            "allocated_bytes": e["args"]["Total Allocated"],
            "delta_bytes": e["args"]["Bytes"],
        }
        for e in events
        if e.get("name") == "[memory]"
        and e["args"].get("Device Type") == device_type
        and e["args"].get("Device Id", -1) in (index, -1)
    ]
    table = pd.DataFrame(rows, columns=["time_ms", "allocated_bytes", "delta_bytes"])
    if not table.empty:
        origin = min(starts) if starts else table["time_ms"].min()
        table["time_ms"] = (table["time_ms"] - origin) / 1e3
    return table.sort_values("time_ms", kind="stable").reset_index(drop=True)


def plot_memory(
    memory: pd.DataFrame, workload: Workload, mode: str, device: torch.device, path: Path
) -> None:
    """Allocated MiB over time as a step line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.step(memory["time_ms"], memory["allocated_bytes"] / 2**20, where="post", lw=1)
    ax.set(
        xlabel="ms from the first profiled step",
        ylabel="allocated MiB (since profiling began)",
        title=f"{workload.op}, L={workload.seq_len}, D={workload.d_model}, {mode}, {device}",
    )
    ax.grid(True, alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _notes(workload: Workload, device: torch.device) -> list[str]:
    if registry.runs_interpreted(workload.op, device):
        return ["Triton interpreter: the times are the interpreter's, not the kernel's"]
    return []


def hta_analysis(tb_dir: Path, out_dir: Path, files: dict[str, Path]) -> list[str]:
    """Holistic Trace Analysis of a CUDA trace: time per kernel type and the GPU's idle
    time, written as CSV (``files`` gains their paths); notes say what it found or why not."""
    try:
        from hta.trace_analysis import TraceAnalysis
    except ImportError:
        return ["HTA skipped: holistictraceanalysis is not installed (the hta extra)"]
    try:
        analyzer = TraceAnalysis(trace_dir=str(tb_dir))
        kernel_types, _ = analyzer.get_gpu_kernel_breakdown(visualize=False)
        idle, _ = analyzer.get_idle_time_breakdown(visualize=False)
    except Exception as failure:  # HTA's parser is strict about trace layouts; a note, no crash
        return [f"HTA failed: {type(failure).__name__}: {failure}"]
    kernel_types.to_csv(out_dir / "hta_kernels.csv", index=False)
    idle.to_csv(out_dir / "hta_idle.csv", index=False)
    files.update(hta_kernels=out_dir / "hta_kernels.csv", hta_idle=out_dir / "hta_idle.csv")
    top = kernel_types.sort_values("sum", ascending=False).head(3)
    summary = ", ".join(f"{r.kernel_type} {r.percentage:.0f}%" for r in top.itertuples())
    return [f"HTA kernel time by type: {summary}"]
