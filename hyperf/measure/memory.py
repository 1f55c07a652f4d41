"""Memory: peak over a call (measured), bytes saved for backward (measured), and models.

- CUDA peak: the caching allocator's peak statistics, reset before the call, minus what was
  already allocated (``max_memory_allocated`` / ``max_memory_reserved``).
- CPU peak: the allocation and free events torch.profiler records with ``profile_memory``,
  replayed in time order; the peak of their running sum. Tensor memory only (what the
  operator allocates), not the process's RSS.
- Saved activations: every tensor autograd keeps for backward, seen through
  ``saved_tensors_hooks``, each storage counted once, parameters excluded (the input is
  included: a layer in a network keeps it too).
- Models: ``analytic_activation_bytes`` predicts the saved bytes from the shapes, term by
  term, for the implementations in ``hyperf.ops``; ``analytic_peak_bytes`` bounds the peak
  of a call, for skipping points that would not fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch.profiler import ProfilerActivity, profile

from hyperf.device import resolve_device
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


def _elem(workload: Workload) -> int:
    return torch.tensor([], dtype=workload.torch_dtype).element_size()


def _long_conv_saved(workload: Workload, batch: int, channels: int, seq_len: int) -> float:
    """What one long convolution keeps besides its input: for ``fft`` the spectra of the
    input and of the filter (complex64, L + 1 bins); for ``blocked``/``triton`` the real and
    imaginary planes of both padded spectra (float32, n = padded length); ``triton`` keeps only
    the filter's spectrum (its gates are the operator's streams, saved already)."""
    backend = workload.op.split(":", 1)[1]
    rows = batch * channels
    if backend == "fft":
        return 8 * (rows + channels) * (seq_len + 1)
    if backend == "triton":
        from hyperf.ops.longconv.triton_monarch import fft_size as triton_fft_size

        return 8 * channels * triton_fft_size(seq_len)
    if backend == "reference":
        return 8 * channels * seq_len  # the float64 filter; u is the input
    from hyperf.ops.longconv.blocked import fft_size

    return 4 * 2 * (rows + channels) * fft_size(seq_len, seq_len)


def hyena_saved(workload: Workload) -> float:
    """Planes of B·L·D activations plus spectra and the filter's FFN, as ``HyenaOperator``
    keeps them: in_proj's input; the short conv's input and output (the N+1 streams, which
    the gates keep); per convolution its spectra, its output (kept by the next gate) and its
    input when that is a fresh gate product; out_proj's input; the FFN's 9 L×W activations
    (3 linear inputs, 2 per Sin) and the modulation window (C×L)."""
    b, seq, d, n = workload.batch, workload.seq_len, workload.d_model, workload.order
    elem, plane = _elem(workload), b * seq * d
    convs = n - 1 if workload.variant == "safari" else n
    fresh_inputs = convs if workload.variant == "safari" else convs - 1
    if workload.op.endswith(":triton"):  # the kernel applies the gates: no gated copies
        fresh_inputs = 0
    planes = 1 + 2 * (n + 1) + convs + fresh_inputs + 1
    saved = elem * planes * plane + convs * _long_conv_saved(workload, b, d, seq)
    saved += elem * seq * 9 * workload.filter_order
    saved += elem * seq * convs * d if workload.modulate else 0
    return saved


def attention_saved(workload: Workload) -> float:
    """Input, qkv and out_proj's input (5 planes); the eager paths (naive, math) also keep
    the softmax output (fp32, B·H·L²) — naive, when causal, the boolean mask that
    ``masked_fill`` saves (L² bytes; none when bidirectional), math the scaled q and k it
    multiplies (2 planes; it adds its causal bias in place and keeps none); fused kernels
    keep the log-sum-exp (fp32, B·H·L) instead."""
    b, seq, d = workload.batch, workload.seq_len, workload.d_model
    heads = workload.n_heads or max(1, d // 64)
    elem = _elem(workload)
    saved = 5 * elem * b * seq * d
    impl = workload.op.split(":", 1)[1]
    if impl == "naive":
        return saved + 4 * b * heads * seq * seq + (seq * seq if workload.causal else 0)
    if impl == "sdpa-math":
        return saved + 4 * b * heads * seq * seq + 2 * elem * b * seq * d
    return saved + 4 * b * heads * seq


def analytic_activation_bytes(workload: Workload) -> int:
    """Predicted ``saved_activation_bytes`` for the operators in ``hyperf.ops``."""
    family = workload.family
    b, seq, d = workload.batch, workload.seq_len, workload.d_model
    elem = _elem(workload)
    if family == "longconv":
        return int(elem * b * d * seq + _long_conv_saved(workload, b, d, seq))
    mixer = hyena_saved(workload) if family == "hyena" else attention_saved(workload)
    if not workload.depth:
        return int(mixer)
    plane = b * seq * d
    # Per block: two LayerNorms (input + mean and rstd), the MLP (input, 4D pre-activation,
    # 4D activation); the mixer's input, the first norm's output, is counted by the mixer.
    block = 2 * (elem * plane + 8 * b * seq) + elem * (plane + 8 * plane)
    final_norm = elem * plane + 8 * b * seq
    return int(workload.depth * (mixer + block) + final_norm)


def analytic_peak_bytes(workload: Workload, mode: str) -> int:
    """Upper estimate of a call's peak: saved activations plus the largest transient buffers
    (FFT spectra or attention scores), doubled for the backward's gradients."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    saved = analytic_activation_bytes(workload)
    b, seq, d = workload.batch, workload.seq_len, workload.d_model
    transient = 3 * 8 * b * d * (seq + 1) + 4 * _elem(workload) * b * seq * d
    if workload.family == "attention" and workload.op.split(":", 1)[1] in ("naive", "sdpa-math"):
        heads = workload.n_heads or max(1, d // 64)
        transient += 3 * 4 * b * heads * seq * seq
    params = 0
    if mode == "infer":
        return int(transient + _elem(workload) * b * seq * d * 4 + params)
    return int(saved + transient * (2 if mode in ("bwd", "fwd_bwd") else 1))
