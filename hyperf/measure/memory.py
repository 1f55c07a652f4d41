"""Memory: peak over a call (measured), bytes saved for backward (measured), and models.

- CUDA peak: the caching allocator's peak statistics, reset before the call, minus what was
  already allocated (``max_memory_allocated`` / ``max_memory_reserved``).
- CPU peak: the allocation and free events torch.profiler records with ``profile_memory``,
  replayed in time order; the peak of their running sum. Tensor memory only (what the
  operator allocates), not the process's RSS.
- Saved activations: every tensor autograd keeps for backward, seen through
  ``saved_tensors_hooks``, each storage counted once, parameters excluded (the input is
  included: a layer in a network keeps it too).
- Models: ``analytic_activation_bytes`` predicts the saved bytes from the shapes (the
  operator's ``Entry.memory``, registered by its file in ``hyperf.ops``, and its depth
  stack's); ``analytic_peak_bytes`` bounds the peak of a call, for skipping points that would
  not fit. Both are None for an operator without a memory model: unknown, never another's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch.profiler import ProfilerActivity, profile

from hyperf import registry
from hyperf.device import resolve_device
from hyperf.ops.costs import element_size
from hyperf.ops.model import stack_saved
from hyperf.workload import MODES, Workload


@dataclass(frozen=True)
class MemoryResult:
    peak_bytes: int
    reserved_bytes: int | None
    method: str

    def as_dict(self) -> dict:
        return asdict(self)


def _run(module: torch.nn.Module, u: torch.Tensor, mode: str) -> None:
    with torch.set_grad_enabled(mode != "infer"):
        out = module(u)
        if mode in ("bwd", "fwd_bwd"):
            out.backward(torch.ones_like(out))


def cpu_peak_bytes(fn) -> int:
    """Peak of allocated-minus-freed tensor bytes while ``fn`` runs on the CPU."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    deltas = []
    for event in prof.events():
        delta = event.cpu_memory_usage if event.name == "[memory]" else event.self_cpu_memory_usage
        if delta:
            deltas.append((event.time_range.start, delta))
    running = peak = 0
    for _, delta in sorted(deltas):
        running += delta
        peak = max(peak, running)
    return int(peak)


def peak_memory(workload: Workload, mode: str, device: str | torch.device = "cpu") -> MemoryResult:
    """Peak memory of one call of ``workload`` in ``mode`` beyond what was live before it.

    In ``bwd`` mode the forward is part of the call (its saved tensors are what the backward
    holds), so ``bwd`` and ``fwd_bwd`` report the same peak.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    device = resolve_device(device)
    module, u = workload.instantiate(device, requires_grad=mode in ("bwd", "fwd_bwd"))
    if device.type == "cuda":
        _run(module, u, mode)  # warm: cuFFT plans and lazy initialisation are not the op's
        module.zero_grad(set_to_none=True)
        u.grad = None
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        before_reserved = torch.cuda.memory_reserved(device)
        torch.cuda.reset_peak_memory_stats(device)
        _run(module, u, mode)
        torch.cuda.synchronize(device)
        return MemoryResult(
            torch.cuda.max_memory_allocated(device) - before,
            torch.cuda.max_memory_reserved(device) - before_reserved,
            "torch.cuda.max_memory_allocated",
        )
    return MemoryResult(
        cpu_peak_bytes(lambda: _run(module, u, mode)), None, "torch.profiler allocation events"
    )


def saved_activation_bytes(workload: Workload, device: str | torch.device = "cpu") -> int:
    """Bytes autograd keeps alive between forward and backward (distinct storages)."""
    module, u = workload.instantiate(resolve_device(device), requires_grad=True)
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(u)
    return sum(storages.values())


def analytic_activation_bytes(workload: Workload) -> int | None:
    """Predicted ``saved_activation_bytes`` (None: the operator has no memory model)."""
    memory = registry.get(workload.op).memory
    if memory is None:
        return None
    mixer = memory(workload).saved
    if not workload.depth:
        return int(mixer)
    block, final_norm = stack_saved(workload)
    return int(workload.depth * (mixer + block) + final_norm)


def analytic_peak_bytes(workload: Workload, mode: str) -> int | None:
    """Upper estimate of a call's peak: saved activations plus the largest transient buffers
    (FFT spectra, four activation planes, and the operator's own scratch such as attention
    scores), doubled for the backward's gradients. None: the operator has no memory model."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    memory = registry.get(workload.op).memory
    if memory is None:
        return None
    saved = analytic_activation_bytes(workload)
    b, seq, d = workload.batch, workload.seq_len, workload.d_model
    elem = element_size(workload)
    transient = 3 * 8 * b * d * (seq + 1) + 4 * elem * b * seq * d + memory(workload).scratch
    if mode == "infer":
        return int(transient + elem * b * seq * d * 4)
    return int(saved + transient * (2 if mode in ("bwd", "fwd_bwd") else 1))
