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
the L2 is flushed before every sample unless ``warm``; ``cuda_graph`` replays a captured graph
instead of calling ``fn``.

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

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hyperf.device import (
    capture_cuda_graph,
    cpu_threads,
    l2_flusher,
    make_timer,
    resolve_device,
    synchronize,
)
from hyperf.measure import contention
from hyperf.stats.sample import Stats, summarize
from hyperf.workload import MODES, Workload

BACKWARD_MODES = ("bwd", "fwd_bwd")


class TimingOptions(BaseModel):
    """How one measurement is taken — the single options model: a sweep spec's ``budget``
    extends it (``hyperf.sweep.spec.Budget``), so a spec key reaches the timer unchanged.
    Spec files name two fields by their aliases: ``seconds`` and ``warmup_calls``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    budget_s: float = Field(2.0, gt=0, alias="seconds", description="sampling budget, s")
    target_rel_ci: float = Field(0.02, gt=0, lt=1, description="stop at this CI half-width")
    min_samples: int = Field(5, ge=1)
    max_samples: int = Field(10_000, ge=1)
    warmup_s: float = Field(0.1, ge=0, description="warm-up lasts at least this long, s")
    min_warmup_calls: int = Field(3, ge=0, alias="warmup_calls")
    warm: bool = Field(False, description="keep caches warm (no L2 flush between samples)")
    cuda_graph: bool = False
    threads: int | None = Field(None, ge=1, description="CPU intra-op threads (None: as is)")
    seed: int = 0

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
    cuda_graph: bool
    interpreted: bool
    wall_s: float
    warmup_calls: int = 0
    cpu_ms: list[float] = field(default_factory=list)  # process CPU time of each sample
    contention: dict = field(default_factory=dict)  # probe readings over the sampling phase
    contended_because: list[str] = field(default_factory=list)  # empty: not contended
    notes: list[str] = field(default_factory=list)

    @property
    def contended(self) -> bool:
        return bool(self.contended_because)

    def as_dict(self) -> dict:
        return asdict(self)


def _reset_grads(tensors: Sequence[torch.Tensor]) -> None:
    for tensor in tensors:
        tensor.grad = None


def _make_step(
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
) -> Measurement:
    """Time ``fn`` (a zero-argument callable returning the forward output)."""
    if not callable(fn):
        raise ValueError(f"fn must be callable; got {type(fn).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    options = options or TimingOptions()
    device = resolve_device(device)
    if options.cuda_graph and mode in BACKWARD_MODES:
        raise ValueError("cuda_graph timing supports modes infer and fwd only")
    resettable = [t for t in (*params, *grad_inputs) if isinstance(t, torch.Tensor)]
    prepare, timed = _make_step(fn, mode, options.seed)
    clock = make_timer(device)
    flush = (lambda: None) if options.warm else l2_flusher(device)
    watch = contention.probe(device)
    started = time.perf_counter()
    cpu_ms: list[float] = []

    with cpu_threads(options.threads) as threads, torch.set_grad_enabled(mode != "infer"):

        def sample() -> float:
            if resettable:
                _reset_grads(resettable)
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
        if options.cuda_graph:
            timed = capture_cuda_graph(timed, device)

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
        _reset_grads(resettable)

    notes = ["Triton interpreter: not a speed"] if interpreted else []
    return Measurement(
        samples_ms=samples,
        first_call_ms=first_call_ms,
        stats=summarize(samples),
        mode=mode,
        device=str(device),
        threads=threads,
        warm=options.warm,
        cuda_graph=options.cuda_graph,
        interpreted=interpreted,
        wall_s=time.perf_counter() - started,
        warmup_calls=warmup_calls,
        cpu_ms=cpu_ms,
        contention=readings,
        contended_because=contention.assess(readings),
        notes=notes,
    )


def time_workload(
    workload: Workload,
    mode: str,
    device: str | torch.device = "cpu",
    options: TimingOptions | None = None,
    interpreted: bool = False,
) -> Measurement:
    """Instantiate ``workload`` on ``device`` and measure it in ``mode``.

    In backward modes the input requires grad too (a mixer inside a network must produce it).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    device = resolve_device(device)
    seed = (options or TimingOptions()).seed
    module, u = workload.instantiate(device, seed=seed, requires_grad=mode in BACKWARD_MODES)
    return measure(
        lambda: module(u),
        device=device,
        mode=mode,
        grad_inputs=(u,),
        params=list(module.parameters()),
        options=options,
        interpreted=interpreted,
    )
