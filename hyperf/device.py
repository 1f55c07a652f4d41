"""The one device abstraction: which device, how to time on it, how to empty its caches.

CPU and CUDA differ in four places only, and all four live here:
- resolving a device name ("auto" picks CUDA when present);
- synchronising before reading a clock;
- the clock itself: CUDA events on the current stream vs ``time.perf_counter_ns``;
- flushing the last-level cache between samples (CUDA: overwrite a buffer twice the L2).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

import torch


def resolve_device(name: str | torch.device) -> torch.device:
    """Resolve a device name: "auto" is cuda if available, else cpu; cuda without CUDA errs."""
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {name!r}"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA devices")
    return device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """A function that runs ``fn`` once and returns its duration in milliseconds.

    CPU: perf_counter_ns around the call. CUDA: events recorded on the current stream around
    the call, read after a synchronize — the GPU's own duration, not the launch overhead.
    """
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def time_cuda(fn: Callable[[], object]) -> float:
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)

        return time_cuda

    def time_cpu(fn: Callable[[], object]) -> float:
        begin = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - begin) / 1e6

    return time_cpu


def l2_flusher(device: torch.device) -> Callable[[], None]:
    """Overwrites a buffer twice the device's L2 so no sample starts with warm caches.

    On CPU this is a no-op: CPU caches are small next to the working sets hyperf times, and
    the operating system gives no reliable way to flush them.
    """
    if device.type != "cuda":
        return lambda: None
    props = torch.cuda.get_device_properties(device)
    l2_bytes = getattr(props, "L2_cache_size", 0) or 50 * 2**20
    buffer = torch.empty(2 * l2_bytes // 4, dtype=torch.int32, device=device)
    return lambda: buffer.zero_()


@contextmanager
def cpu_threads(threads: int | None):
    """Temporarily set torch's intra-op thread count (None leaves it as is)."""
    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1; got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
