"""Timing: one entry point, ``measure``, that returns a plain ``Measurement``.

What a sample contains depends on the mode (see ``hyperf.workload.MODES``):
- ``infer``: the forward under ``torch.no_grad``;
- ``fwd``: the forward with autograd recording (what training pays for the forward);
- ``bwd``: the backward alone — the forward runs before each sample, outside the clock;
- ``fwd_bwd``: forward then backward.
Gradients of the parameters and inputs are reset (set to None) before every sample, outside
the clock, so nothing accumulates.

The procedure: one first call, timed alone (cuFFT plans, Triton compilation, autotuning and
lazy initialisation land there and are reported as ``first_call_ms``); warm-up until at least
``min_warmup_calls`` calls and ``warmup_s`` seconds; then samples until the 95% CI of the
median (order statistics, ``stats.median_ci``) is within ±``target_rel_ci`` of it, or the
budget is spent (never fewer than ``min_samples``, never more than ``max_samples``). On CUDA
the L2 is flushed before every sample unless ``warm``. With ``exec`` graph the step is
captured after the warm-up and the samples time its replay; with ``compile`` the first call
holds the compilation. After sampling, ``device_steps`` more steps run under the profiler for
the step's device (CUDA) or operator (CPU) time (``hyperf.measure.execution.device_time``):
outside the samples, so the profiler never touches a timed call.

Beside each sample's wall time the process CPU time is kept, and a contention probe is read
around the sampling phase (``hyperf.measure.contention``): a measurement taken while something
else held the device says so in ``contended_because``.

A measurement taken through the Triton interpreter is flagged ``interpreted``: it says how
long the interpreter took, nothing about the kernel's speed, and is never reported as speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hyperf.device import (
    cpu_threads,
    l2_flusher,
    make_timer,
    resolve_device,
    synchronize,
)
from hyperf.measure import contention, execution
from hyperf.stats.sample import Stats, summarize
from hyperf.workload import MODES, Workload

BACKWARD_MODES = ("bwd", "fwd_bwd")


DAY_S = 86_400.0  # the longest any one timing setting may be, s
MAX_SAMPLES = 10**8


class TimingOptions(BaseModel):
    """How one measurement is taken — the single options model: a sweep spec's ``budget``
    extends it (``hyperf.sweep.spec.Budget``), so a spec key reaches the timer unchanged.
    Spec files name two fields by their aliases: ``seconds`` and ``warmup_calls``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Upper bounds catch a typo (an extra zero, 2**70) before it runs for ever or overflows
    # a C long; each is far beyond any real measurement.
    budget_s: float = Field(2.0, gt=0, le=DAY_S, alias="seconds", description="sampling budget, s")
    target_rel_ci: float = Field(0.02, gt=0, lt=1, description="stop at this CI half-width")
    min_samples: int = Field(5, ge=1, le=MAX_SAMPLES)
    max_samples: int = Field(10_000, ge=1, le=MAX_SAMPLES)
    warmup_s: float = Field(0.1, ge=0, le=DAY_S, description="warm-up lasts at least this long, s")
    min_warmup_calls: int = Field(3, ge=0, le=MAX_SAMPLES, alias="warmup_calls")
    warm: bool = Field(False, description="keep caches warm (no L2 flush between samples)")
    compile_mode: Literal["default", "max-autotune"] = Field(
        "default", description="torch.compile's mode for points with exec: compile"
    )
    device_steps: int = Field(
        0, ge=0, le=1000, description="steps profiled after sampling for the device time (0: none)"
    )
    threads: int | None = Field(
        None, ge=1, le=4096, description="CPU intra-op threads (None: as is)"
    )
    seed: int = Field(0, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def samples_ordered(self) -> TimingOptions:
        if self.max_samples < self.min_samples:
            raise ValueError(
                f"max_samples ({self.max_samples}) must be at least min_samples "
                f"({self.min_samples})"
            )
        return self


@dataclass
class Measurement:
    """Raw samples and their summary for one callable on one device in one mode."""

    samples_ms: list[float]
    first_call_ms: float
    stats: Stats
    mode: str
    device: str
    threads: int
    warm: bool
    exec: str
    interpreted: bool
    wall_s: float
    warmup_calls: int = 0
    cpu_ms: list[float] = field(default_factory=list)  # process CPU time of each sample
    contention: dict = field(default_factory=dict)  # probe readings over the sampling phase
    contended_because: list[str] = field(default_factory=list)  # empty: not contended
    notes: list[str] = field(default_factory=list)
    device_time: dict = field(default_factory=dict)  # execution.DeviceTime of a step, if read
    recompiled: int = 0  # torch.compile graphs built while sampling (exec compile)

    @property
    def contended(self) -> bool:
        return bool(self.contended_because)

    def as_dict(self) -> dict:
        return asdict(self)


def reset_grads(tensors: Sequence[torch.Tensor]) -> None:
    """Drop the gradients the last backward accumulated (outside the clock), so each sample
    writes fresh ones as a training step does."""
    for tensor in tensors:
        tensor.grad = None


def make_step(
    fn: Callable[[], torch.Tensor], mode: str, seed: int
) -> tuple[Callable[[], None], Callable[[], object]]:
    """(prepare, timed) for the mode: ``prepare`` runs outside the clock before each sample.

    The caller sets the grad mode once around the whole measurement, so the timed region
    holds nothing but the work.
    """
    if mode in ("infer", "fwd"):
        return (lambda: None), fn
    grad: list[torch.Tensor] = []

    def forward_output() -> torch.Tensor:
        out = fn()
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise ValueError(f"mode {mode!r} needs fn to return a tensor that requires grad")
        if not grad:
            generator = torch.Generator(device=out.device).manual_seed(seed)
            grad.append(
                torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
            )
        return out

    if mode == "fwd_bwd":
        return (lambda: None), lambda: forward_output().backward(grad[0])
    held: list[torch.Tensor] = []

    def prepare() -> None:
        held[:] = [forward_output()]

    def backward() -> None:
        held.pop().backward(grad[0])

    return prepare, backward


def measure(
    fn: Callable[[], torch.Tensor],
    *,
    device: str | torch.device = "cpu",
    mode: str = "fwd",
    grad_inputs: Sequence[torch.Tensor] = (),
    params: Sequence[torch.Tensor] = (),
    options: TimingOptions | None = None,
    interpreted: bool = False,
    exec: str = "eager",
) -> Measurement:
    """Time ``fn`` (a zero-argument callable returning the forward output) run as ``exec``
    (``hyperf.measure.execution``; for ``compile`` the caller passes the compiled module's
    call: compilation is then the first call's cost)."""
    if not callable(fn):
        raise ValueError(f"fn must be callable; got {type(fn).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    options = options or TimingOptions()
    device = resolve_device(device)
    ok, reason = execution.available(exec, device, mode)
    if not ok:
        raise ValueError(reason)
    resettable = [t for t in (*params, *grad_inputs) if isinstance(t, torch.Tensor)]
    prepare, timed = make_step(fn, mode, options.seed)
    clock = make_timer(device)
    flush = (lambda: None) if options.warm else l2_flusher(device)
    watch = contention.probe(device)
    started = time.perf_counter()
    cpu_ms: list[float] = []
    # A replayed graph writes its gradients into its own buffers: they are never reset.
    reset = {"grads": True}

    with cpu_threads(options.threads) as threads, torch.set_grad_enabled(mode != "infer"):

        def sample() -> float:
            if resettable and reset["grads"]:
                reset_grads(resettable)
            prepare()
            flush()
            synchronize(device)
            cpu_start = time.process_time_ns()
            elapsed = clock(timed)
            cpu_ms.append((time.process_time_ns() - cpu_start) / 1e6)
            return elapsed

        first_call_ms = sample()
        warmup_calls, warmup_start = 0, time.perf_counter()
        while (
            warmup_calls < options.min_warmup_calls
            or time.perf_counter() - warmup_start < options.warmup_s
        ):
            sample()
            warmup_calls += 1
        if exec == "graph":
            # Gradients set to None inside the captured step (Python only, no CUDA work):
            # the captured backward allocates them in the graph's pool, and every replay
            # rewrites them (the pattern that captured every training step on an H200).
            eager_step = timed

            def fresh_step() -> None:
                reset_grads(resettable)
                eager_step()

            timed, reset["grads"] = execution.capture_graph(fresh_step, device), False
        compiled_before = execution.compilations() if exec == "compile" else 0

        samples: list[float] = []
        cpu_ms.clear()
        next_check = options.min_samples
        watch.start()
        sampling_start = time.perf_counter()
        while len(samples) < options.max_samples:
            samples.append(sample())
            n = len(samples)
            if n < options.min_samples:
                continue
            if time.perf_counter() - sampling_start >= options.budget_s:
                break
            if n >= next_check:  # check now and then, not after every sample
                if summarize(samples).rel_ci_halfwidth <= options.target_rel_ci:
                    break
                next_check = max(n + 1, math.ceil(n * 1.2))
        readings = watch.stop(time.perf_counter() - sampling_start, sum(cpu_ms) / 1e3, threads)
        recompiled = execution.compilations() - compiled_before if exec == "compile" else 0
        device_time = {}
        # Not for ``bwd``: its forward runs before each step, outside the clock but inside a
        # profiled window, so the profile could not tell the two apart.
        if options.device_steps and not interpreted and mode != "bwd":
            device_time = execution.device_time(
                timed,
                device,
                options.device_steps,
                before_each=lambda: reset_grads(resettable) if reset["grads"] else None,
            ).as_dict()
        reset_grads(resettable)

    notes = ["Triton interpreter: not a speed"] if interpreted else []
    if recompiled:
        notes.append(f"torch.compile recompiled {recompiled}× while sampling")
    return Measurement(
        samples_ms=samples,
        first_call_ms=first_call_ms,
        stats=summarize(samples),
        mode=mode,
        device=str(device),
        threads=threads,
        warm=options.warm,
        exec=exec,
        interpreted=interpreted,
        wall_s=time.perf_counter() - started,
        warmup_calls=warmup_calls,
        cpu_ms=cpu_ms,
        contention=readings,
        contended_because=contention.assess(readings),
        notes=notes,
        device_time=device_time,
        recompiled=recompiled,
    )


def time_workload(
    workload: Workload,
    mode: str,
    device: str | torch.device = "cpu",
    options: TimingOptions | None = None,
    interpreted: bool = False,
) -> Measurement:
    """Instantiate ``workload`` on ``device`` and measure it in ``mode``, run as its
    ``exec`` (compiled here for ``compile``).

    In backward modes the input requires grad too (a mixer inside a network must produce it).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    device = resolve_device(device)
    options = options or TimingOptions()
    module, u = workload.instantiate(
        device, seed=options.seed, requires_grad=mode in BACKWARD_MODES
    )
    parameters = list(module.parameters())
    if workload.exec == "compile":
        module = execution.compile_module(module, options.compile_mode)
    return measure(
        lambda: module(u),
        device=device,
        mode=mode,
        grad_inputs=(u,),
        params=parameters,
        options=options,
        interpreted=interpreted,
        exec=workload.exec,
    )
