"""The pytest-benchmark suite's machinery: timing through hyperf, environment, comparison.

**How a case is timed.** hyperf's measurement core (``hyperf.measure.timing.time_workload``)
takes the samples — CUDA events on the working stream with the L2 flushed before each
sample on a GPU, ``perf_counter_ns`` on the CPU, the first call timed apart, warm-up by time,
gradients reset outside the clock — and pytest-benchmark receives them afterwards: the
``benchmark`` fixture gets ``ReplayClock`` as its timer (the documented ``timer`` keyword
of the ``benchmark`` marker), and ``benchmark.pedantic`` "runs" a target that moves that
clock on by one recorded sample per round. pytest-benchmark's statistics, table,
``--benchmark-json`` and saved raw data (seconds per call) are then hyperf's samples,
exactly.

Why not time with pytest-benchmark's own clock? A host clock around a GPU call measures the
launch, not the kernel, unless every call is followed by a synchronize — and then it
includes the synchronize and the launch latency. Timing through hyperf keeps the suite's
numbers the same numbers as a sweep's (same step, same clock, same L2 flush, same
first-call and grad-reset rules), with no second copy of that code to drift from the first.

CPU cases run on one thread (``CPU_THREADS``, see there). pytest-benchmark's options map onto
hyperf's: ``--benchmark-max-time`` is the sampling budget per case (s),
``--benchmark-min-rounds`` the fewest samples, and ``--benchmark-precision`` the relative 95%
CI half-width of the median at which sampling may stop early (unset: sample for the whole
budget).

**Default ``pytest``** (``--benchmark-disable``): every case that is not marked ``long``
(each CPU operator and mode at its smallest size) runs its step twice as a smoke test, about
a second for all of them; ``long`` cases (larger CPU sizes, and every GPU case) skip there.
GPU cases (marker ``gpu``) skip on any machine without CUDA. ``scripts/bench.sh`` runs the
suite for real.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from hyperf import envinfo, registry
from hyperf.format import achieved_tflops
from hyperf.measure.flops import analytic_flops
from hyperf.measure.timing import Measurement, TimingOptions, measure, time_workload
from hyperf.workload import Workload

HERE = Path(__file__).parent
MAX_SAMPLES = 2_000  # bounds the JSON (raw samples are kept) for the fastest CPU cases
# CPU cases run on one intra-op thread: a gate needs numbers that neither a neighbour process
# (two torch threads sharing a core crawl, 10-100x on a 2-core runner) nor a runner with more
# cores moves. How the operators scale with threads is a sweep's question, not this suite's.
CPU_THREADS = 1
# Two calls of the step: enough to show a case builds and runs, in milliseconds.
SMOKE = TimingOptions(
    budget_s=1e-3, min_samples=1, max_samples=1, warmup_s=0, warmup_calls=0, threads=CPU_THREADS
)


class ReplayClock:
    """A clock that moves only when a recorded sample is replayed: read by pytest-benchmark
    before and after each round, it yields that round's sample (seconds) as the duration."""

    def __init__(self) -> None:
        self.__name__ = "hyperf_replay_clock"  # how pytest-benchmark names the timer
        self.now = 0.0
        self._samples: Iterator[float] = iter(())

    def __call__(self) -> float:
        return self.now

    def load(self, samples_s: list[float]) -> None:
        self.now, self._samples = 0.0, iter(samples_s)

    def play(self) -> None:
        self.now += next(self._samples)


CLOCK = ReplayClock()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give this directory's benchmarks the replay clock as their timer."""
    for item in items:
        if item.path.is_relative_to(HERE) and "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.benchmark(timer=CLOCK))


def timing_options(config: pytest.Config, device: torch.device) -> TimingOptions:
    precision = config.getoption("benchmark_precision", None)
    return TimingOptions(
        budget_s=float(config.getoption("benchmark_max_time")),
        min_samples=config.getoption("benchmark_min_rounds"),
        max_samples=MAX_SAMPLES,
        target_rel_ci=float(precision) if precision else 1e-9,
        warmup_s=0.2 if device.type == "cuda" else 0.1,
        threads=CPU_THREADS if device.type == "cpu" else None,
    )


def skip_reason(workload: Workload, device: torch.device, smoke: bool, long: bool) -> str | None:
    """Why this case does not run here, or None."""
    if device.type == "cuda" and not torch.cuda.is_available():
        return "GPU-sized case: needs CUDA, which this machine lacks"
    if smoke and long:
        return "long case: runs only with benchmarks enabled (scripts/bench.sh)"
    ok, reason = registry.check_available(
        workload.op, device, workload.torch_dtype, workload.seq_len
    )
    if not ok:
        return reason
    if registry.runs_interpreted(workload.op, device):
        return "Triton runs in its interpreter here: its times are the interpreter's, not a speed"
    return None


def run_case(
    benchmark, node: pytest.Item, workload: Workload, mode: str, device: str
) -> Measurement:
    """Time ``workload`` in ``mode`` on ``device`` and hand the samples to ``benchmark``."""
    where = torch.device(device)
    long = node.get_closest_marker("long") is not None
    reason = skip_reason(workload, where, benchmark.disabled, long)
    if reason:
        pytest.skip(reason)
    family = "model" if workload.depth else workload.family
    benchmark.group = f"{family}-{'gpu' if where.type == 'cuda' else 'cpu'}"
    options = SMOKE if benchmark.disabled else timing_options(node.config, where)
    try:
        measurement = time_workload(workload, mode, where, options)
    except torch.cuda.OutOfMemoryError as error:
        pytest.skip(f"does not fit in this GPU's memory: {str(error).splitlines()[0]}")
    finally:
        if where.type == "cuda":
            torch.cuda.empty_cache()  # the next case starts from the same free memory
    CLOCK.load([ms / 1e3 for ms in measurement.samples_ms])
    benchmark.pedantic(CLOCK.play, rounds=len(measurement.samples_ms), iterations=1)

    flops = analytic_flops(workload, mode)["total"]
    median_s = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        {
            **workload.as_dict(),
            "mode": mode,
            "device": str(where),
            "flops": flops,
            "tflops": achieved_tflops(flops, median_s) if median_s else None,
            "timer": "cuda events, L2 flushed" if where.type == "cuda" else "perf_counter_ns",
            "first_call_ms": measurement.first_call_ms,
            "warmup_calls": measurement.warmup_calls,
            "threads": measurement.threads,
            "rel_ci_halfwidth": measurement.stats.rel_ci_halfwidth,
            "noisy": measurement.stats.noisy,
            "contended_because": measurement.contended_because,
        }
    )
    return measurement


@pytest.fixture
def run_benchmark(benchmark, request) -> Callable[[Workload, str, str], Measurement]:
    """``run_benchmark(workload, mode, device)``: see ``run_case``."""
    return functools.partial(run_case, benchmark, request.node)


# Drift controls, per device: (matmul n, copy elements); a fraction of a ms to a ms each.
SIZES = {"cpu": (256, 2**21), "cuda": (8192, 2**27)}


def control_case(benchmark, node: pytest.Item, device: str, kind: str) -> None:
    """Time a drift control (``test_control.py``): a matmul or a copy at a fixed size."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("GPU control: needs CUDA, which this machine lacks")
    where = torch.device(device)
    dtype = torch.float16 if where.type == "cuda" else torch.float32
    n, elements = SIZES[device]
    generator = torch.Generator(device=where).manual_seed(0)
    if kind == "matmul":
        a = torch.randn(n, n, device=where, dtype=dtype, generator=generator)
        b = torch.randn(n, n, device=where, dtype=dtype, generator=generator)
        work = lambda: a @ b  # noqa: E731
    else:
        source = torch.randn(elements, device=where, dtype=dtype, generator=generator)
        target = torch.empty_like(source)
        work = lambda: target.copy_(source)  # noqa: E731
    options = SMOKE if benchmark.disabled else timing_options(node.config, where)
    measurement = measure(work, device=where, options=options)
    benchmark.group = f"control-{'gpu' if where.type == 'cuda' else 'cpu'}"
    CLOCK.load([ms / 1e3 for ms in measurement.samples_ms])
    benchmark.pedantic(CLOCK.play, rounds=len(measurement.samples_ms), iterations=1)
    benchmark.extra_info.update({"control": kind, "device": str(where), "dtype": str(dtype)})


@pytest.fixture
def run_control(benchmark, request) -> Callable[[str, str], None]:
    """``run_control(device, kind)``: see ``control_case``."""
    return functools.partial(control_case, benchmark, request.node)


# --- machine info ----------------------------------------------------------------------------


@functools.cache
def hyperf_machine_info() -> dict:
    """What decides this suite's numbers, from ``hyperf.envinfo`` (the gate compares these)."""
    env = envinfo.capture()
    gpu = env["gpus"][0] if env["gpus"] else {}
    return {
        "device": "cuda" if env["cuda_available"] else "cpu",
        "gpu_name": gpu.get("name"),
        "gpu_capability": gpu.get("capability"),
        "driver": env["driver"],
        "cuda": env["cuda_runtime"],
        "torch": env["torch"],
        "triton": env["triton"],
        "flash_attn": env["flash_attn"],
        "cpu_model": env["cpu_model"],
        "threads": CPU_THREADS,  # what the CPU cases run on, not torch's default
        "allocator": env["allocator"],
        "hyperf": env["hyperf"],
    }


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["hyperf"] = hyperf_machine_info()


def pytest_benchmark_compare_machine_info(
    config: pytest.Config, benchmarksession, machine_info: dict, compared_benchmark: dict
) -> None:
    """Warn, key by key, where the compared run's environment differs from this one (runs
    only when this conftest is loaded at start-up: name ``tests/benchmarks`` on the command
    line)."""
    now = machine_info.get("hyperf", {})
    then = compared_benchmark.get("machine_info", {}).get("hyperf", {})
    differences = [
        f"{key}: {then.get(key)!r} then, {now.get(key)!r} now"
        for key in sorted(now.keys() | then.keys())
        if now.get(key) != then.get(key)
    ]
    if differences:
        benchmarksession.logger.warning(
            "the compared run's hyperf environment differs, so its times may not be "
            "comparable: " + "; ".join(differences)
        )
