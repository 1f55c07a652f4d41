"""Execution modes — how a point's step is run — and what its time is made of.

- ``eager``: PyTorch as written. Every call dispatches each op from Python and launches its
  kernels one by one; at small sizes the GPU waits on the host.
- ``graph``: the step — the forward, or the whole training step (forward, backward, parameter
  and input gradients written into the graph's own buffers) — is captured once into a CUDA
  graph after a warm-up on a side stream, then replayed: one launch, no Python. CUDA only.
- ``compile``: the module is wrapped by ``torch.compile`` (``mode`` "default" or
  "max-autotune"); compilation lands in the first call. A recompilation while samples are
  taken is counted and flags the point: its samples mix compiled and compiling calls.

``device_time`` reads what one step is made of from the profiler (Kineto): on CUDA the
summed duration of the kernels, memcpys and memsets one step issues, and their count (the
device's busy time, TritonBench's ``cuda_time``); on CPU the summed self time of the aten
operators (the time inside operators; the rest of the wall time is Python and dispatch).
``host overhead = wall − device``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from hyperf.params import EXECS

# What the CUDA trace calls device work; the CPU op events of the same trace are the host's.
DEVICE_CATEGORIES = ("kernel", "gpu_memcpy", "gpu_memset")
GRAPH_MODES = ("infer", "fwd", "fwd_bwd")  # a graph holds a whole step; ``bwd`` splits one
COMPILE_MODES = ("default", "max-autotune")


def available(execution: str, device: torch.device, mode: str) -> tuple[bool, str]:
    """``(ok, reason)`` for running a step of ``mode`` in ``execution`` on ``device``."""
    if execution not in EXECS:
        return False, f"exec must be one of {', '.join(EXECS)}; got {execution!r}"
    if execution == "graph" and device.type != "cuda":
        return False, "exec graph needs CUDA (CUDA graphs); this point runs on the CPU"
    if execution == "graph" and mode not in GRAPH_MODES:
        return False, f"exec graph captures whole steps ({', '.join(GRAPH_MODES)}), not {mode}"
    return True, ""


def compile_module(module: torch.nn.Module, mode: str = "default") -> torch.nn.Module:
    """``torch.compile`` with a fixed shape (``dynamic=False``): a point has one shape."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {', '.join(COMPILE_MODES)}; got {mode!r}")
    return torch.compile(module, mode=None if mode == "default" else mode, dynamic=False)


def compilations() -> int:
    """Graphs torch.compile has built in this process so far (a recompilation adds one)."""
    from torch._dynamo.utils import counters  # no public counter exists (torch 2.13)

    return int(counters["stats"]["unique_graphs"])


def capture_graph(step: Callable[[], object], device: torch.device) -> Callable[[], None]:
    """Capture ``step`` into a CUDA graph after three warm-up calls on a side stream (the
    documented pattern: lazy initialisation and cuFFT plans happen outside the capture);
    returns the replay. Gradients must be None before the call, so that the captured backward
    allocates them in the graph's pool and every replay rewrites them."""
    if device.type != "cuda":
        raise ValueError("CUDA graphs need a CUDA device")
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


@dataclass(frozen=True)
class DeviceTime:
    """What one step is made of, from ``steps`` profiled steps."""

    device_ms: float  # CUDA: summed kernel/memcpy/memset time; CPU: summed operator self time
    events: float  # CUDA: device activities per step (kernels …); CPU: operator calls
    steps: int
    source: str  # how it was read, for the record

    def as_dict(self) -> dict:
        return {
            "device_ms": self.device_ms,
            "events": self.events,
            "steps": self.steps,
            "source": self.source,
        }


def device_time(
    step: Callable[[], object],
    device: torch.device,
    steps: int = 3,
    before_each: Callable[[], None] = lambda: None,
) -> DeviceTime:
    """Profile ``steps`` calls of ``step`` (each after ``before_each``, e.g. resetting
    gradients; that work is left out on CPU and is a memset or none on CUDA) and return the
    device (CUDA) or operator (CPU) time per step."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    # A first session, thrown away: torch.compile recompiles once when a profiler is active
    # (its guards see it), and Kineto's first session carries its start-up.
    for recorded in (1, steps):
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(recorded):
                before_each()
                step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
    if device.type == "cuda":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "trace.json"
            prof.export_chrome_trace(str(path))
            events = json.loads(path.read_text())["traceEvents"]
        work = [e for e in events if e.get("cat") in DEVICE_CATEGORIES]
        total_us = sum(float(e.get("dur", 0)) for e in work)
        return DeviceTime(total_us / 1e3 / steps, len(work) / steps, steps, "cupti kernels")
    # Operators only: record_function annotations (hyperf's regions) hold Python.
    inside = [e for e in prof.key_averages() if not getattr(e, "is_user_annotation", False)]
    total_us = sum(e.self_cpu_time_total for e in inside)
    calls = sum(e.count for e in inside)
    return DeviceTime(total_us / 1e3 / steps, calls / steps, steps, "operator self time")
