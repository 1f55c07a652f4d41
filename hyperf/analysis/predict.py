"""Predicted GPU times — predictions, never measurements — from parts fitted on published timings.

No GPU is lent to this project, so what it cannot measure it predicts. A workload is split
into components (its projections; the attention core or the Hyena core — filter, short conv,
long convolutions, gating; the residual blocks' MLPs and norms), and each component into five
terms, in seconds:

- ``gemm``: every matrix multiply, t = 2·b·M·N·K / (P·e(s)) + t0 per GEMM — the efficiency
  surface of ``gpu_model`` (fitted on XLA's H100 table), its e_max scaled to the device by the
  published achievable matmul rate (``gemm_achievable / fp16``, relative to the H100's);
  backward: the input and the weight gradients, (M, K, N) and (K, N, M);
- ``attention_core``: the FlashAttention-2 benchmark fit per implementation (``gpu_model``,
  A100); fused kernels run at the device's mma.sync rate (2/3 of the peak on Hopper), eager
  attention (``sdpa-math``, ``naive``) scales from the A100 mostly with memory bandwidth and
  partly with the GEMM rate, its forward/backward split its own (both fitted on the FA2 and
  FA3 papers' H100 points), cuDNN (``sdpa-cudnn``) is fitted on the FA3 paper's H100 forward
  points at the dense fp16 rate, FlashAttention-3 is FA2 on the same Hopper device divided by
  its published speedups;
- ``fft``: torch.fft transforms, bytes over the FFT fit's achieved bandwidth W(n); the blocked
  backend's DFT matmuls on the GEMM surface at its small block sizes; the fused Triton kernel as
  max(DFT FLOPs at the tf32 rate, its bytes at W);
- ``elementwise``: the other passes' bytes (``analytic_bytes``) at the achieved bandwidth W_max;
- ``launch``: the host time not hidden behind the GPU, max(0, kernels·τ − the other terms) per
  component: eager PyTorch spends τ on the CPU for each kernel it launches.

Terms sum to the component's time and components to the total, so ``region="core"`` is the
mixer minus its projection (and block) components exactly.

Assumptions that no published point here pins down are named constants below; the validation
(``validation``) reports how the whole model does on points it was not fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from hyperf import registry
from hyperf.analysis import gpu_model as parts
from hyperf.analysis.gpu_model import devices
from hyperf.measure.flops import analytic_bytes, analytic_flops
from hyperf.ops.costs import fft_flops as _fft
from hyperf.workload import Workload

TERMS = ("gemm", "attention_core", "fft", "elementwise", "launch")
REGIONS = ("core", "mixer")
MODES = ("fwd", "bwd", "fwd_bwd")

# Host time per launched kernel in eager PyTorch: ~5–25 µs of CPU-side work per op (Python,
# dispatcher, autograd, cudaLaunchKernel; J. Lin, "From PyTorch op to kernel launch"). Not
# fitted: no published calibration point is launch-bound. hyperf's own H100 runs at B=1,
# L ≤ 2K (1 to 5 ms for 30–100 kernels) are consistent with the upper half of that range.
LAUNCH_S = 20e-6

# FlashAttention's split of a fwd+bwd attention core: forward 1, backward 2.5 (its FLOP
# convention); assumed to hold for the time of fused kernels (equal efficiency both ways;
# cuDNN's backward included, no published cuDNN backward here). Eager attention has its own,
# fitted split (``gpu_model.eager_mode_share``: forward ≈ 0.34 of a step, ≈ 0.49 causal).
ATTENTION_SHARE = {"fwd": 1 / 3.5, "bwd": 2.5 / 3.5, "fwd_bwd": 1.0}

# FlashAttention-3 over FlashAttention-2 on H100, fp16 (Shah et al., arXiv:2407.08608,
# abstract and section 4.1: 1.5–2.0× forward, 1.5–1.75× backward); midpoints.
FA3_SPEEDUP = {"fwd": 1.75, "bwd": 1.6}

# Which published implementation times an attention core, and how a long convolution is
# timed, is each operator's ``Entry.time_model`` (``hyperf.registry.TimeModel``).
EAGER = "pytorch"
# Bytes per L×L score element that an eager forward moves: the FlashAttention-2 benchmark's
# baseline (baddbmm write 2, masked_fill 2+2, softmax 2+2, einsum read 2) against hyperf's
# naive core and SDPA's math backend (scores written 2, scaled 2+2, masked 2+2, upcast to fp32
# 2+4, softmax 4+4, cast back 4+2, read by the second matmul 2). Eager attention is
# bandwidth-bound, so hyperf's own eager cores take the fitted baseline's time × 32/12.
EAGER_SCORE_BYTES = {"baseline": 12, "hyperf": 32}
DTYPE_RATE = {"float16": "fp16", "bfloat16": "fp16", "float32": "fp32", "float64": "fp64"}
BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}

# Kernels one forward launches, per component, from torch.profiler traces of hyperf's modules
# (aten ops that do device work, views and allocations left out; forward / forward+backward):
# hyena:fft 35 / 122, hyena:blocked 96 / 259, longconv:fft 7 / 19, longconv:blocked 69 / 157,
# attention:sdpa-math 13 / 35, attention:sdpa-flash 5 / 21. A backward launches about 2.5× the
# forward's kernels (the fwd_bwd / fwd ratios are 2.7–4.2, median 3.5). A long convolution's
# count is its backend's (``TimeModel.kernels``).
KERNELS = {
    "projections": {"hyena": 4, "attention": 4},
    "filter": 14,  # positional embedding, four linears, three sin and their frequency products
    "short_conv": 3,
    "gating": 4,  # plus one per product
    "attention_core": {"fused": 1, "eager": 9},
    "block": 7,  # two LayerNorms, two GEMMs, GELU, two residual adds
}
KERNEL_FACTOR = {"fwd": 1.0, "bwd": 2.5, "fwd_bwd": 3.5}


class PredictError(ValueError):
    """A request the model cannot answer: unknown GPU, op without a model, missing dtype."""


@cache
def published() -> dict[str, dict]:
    return yaml.safe_load(resources.files("hyperf.data").joinpath("published.yaml").read_text())


def gpu_name(gpu: str) -> str:
    """The device table's spelling of ``gpu`` (``h100-sxm`` → ``H100-SXM``)."""
    names = {name.lower(): name for name in devices()}
    if gpu.lower() not in names:
        raise PredictError(f"unknown GPU {gpu!r}; known: {', '.join(devices())}")
    return names[gpu.lower()]


def device(gpu: str) -> dict:
    return devices()[gpu_name(gpu)]


@dataclass(frozen=True)
class Prediction:
    """Seconds per component and term; ``seconds`` is their sum."""

    components: dict[str, dict[str, float]]
    notes: tuple[str, ...] = field(default=())

    @property
    def terms(self) -> dict[str, float]:
        return {t: sum(c[t] for c in self.components.values()) for t in TERMS}

    @property
    def seconds(self) -> float:
        return sum(self.terms.values())

    @property
    def bound_by(self) -> str:
        return max(self.terms.items(), key=lambda kv: kv[1])[0]


# ---------------------------------------------------------------- the parts on a device


def _rate(spec: dict, gpu: str, dtype: str) -> float:
    key = DTYPE_RATE.get(dtype)
    if key is None or key not in spec:
        have = ", ".join(d for d, k in DTYPE_RATE.items() if k in spec)
        raise PredictError(f"{gpu} has no published {dtype} rate; it has: {have}")
    return spec[key]


def gemm_seconds(shapes: Iterable[tuple[float, float, float]], gpu: str, dtype: str) -> float:
    """Σ 2MNK / (P·e(s)) + t0 over (M, N, K) shapes; e_max scaled to the device."""
    spec = device(gpu)
    fitted = parts.fitted_parameters()["gemm"]
    h100 = devices()["H100-SXM"]
    scale = (spec["gemm_achievable"] / spec["fp16"]) / (h100["gemm_achievable"] / h100["fp16"])
    params = fitted | {"e_max": fitted["e_max"] * scale}
    peak = _rate(spec, gpu, dtype)
    return float(sum(parts.gemm_time(params, m, n, k, 1, peak) for m, n, k in shapes))


def backward_shapes(shapes: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Gradients of y = x·W (M×K by K×N): dx = dy·Wᵀ (M, K, N) and dW = xᵀ·dy (K, N, M)."""
    return [s for m, n, k in shapes for s in ((m, k, n), (k, n, m))]


def mode_shapes(forward: list, mode: str) -> list:
    backward = backward_shapes(forward)
    return {"fwd": forward, "bwd": backward, "fwd_bwd": forward + backward}[mode]


def achieved_bandwidth(gpu: str, n: float | None = None) -> float:
    """W_max (or W(n) for FFT rows of length n): the FFT fit's share of the H100's datasheet
    bandwidth, applied to this device's."""
    fft = parts.fitted_parameters()["fft"]
    share = fft["W_max"] / parts.H100_BANDWIDTH
    params = fft | {"W_max": share * device(gpu)["memory_bandwidth"]}
    if n is None:
        return params["W_max"]
    return float(parts.achieved_bandwidth(params, n))


def attention_core_seconds(
    impl: str,
    batch: int,
    heads: int,
    seq_len: int,
    head_dim: int,
    causal: bool,
    mode: str,
    gpu: str,
    dtype: str,
) -> float:
    """The published implementation ``impl``'s core on ``gpu`` (see the module docstring)."""
    spec = device(gpu)
    params = parts.fitted_parameters()["attention"]
    if impl == "FA3":
        if spec["arch"] != "sm_90":
            raise PredictError(
                f"FlashAttention-3 runs on sm_90 (H100, H200) only; {gpu} is {spec['arch']}"
            )
        fa2 = attention_core_seconds(
            "FA2", batch, heads, seq_len, head_dim, causal, "fwd", gpu, dtype
        )
        fa2_bwd = attention_core_seconds(
            "FA2", batch, heads, seq_len, head_dim, causal, "bwd", gpu, dtype
        )
        fwd, bwd = fa2 / FA3_SPEEDUP["fwd"], fa2_bwd / FA3_SPEEDUP["bwd"]
        return {"fwd": fwd, "bwd": bwd, "fwd_bwd": fwd + bwd}[mode]
    a100 = devices()["A100-80GB"]
    if impl == EAGER:
        # The A100 time, its bandwidth share scaled by bandwidth and element size, the rest by
        # the achievable GEMM rate in this dtype; the mode's share is eager attention's own.
        eager = parts.fitted_parameters()["eager"]
        base = parts.attention_time(params, impl, batch, heads, seq_len, head_dim, causal)
        rate = spec["gemm_achievable"] * _rate(spec, gpu, dtype) / spec["fp16"]
        scale = parts.eager_device_scale(
            eager,
            a100["memory_bandwidth"] / spec["memory_bandwidth"] * BYTES[dtype] / 2,
            a100["gemm_achievable"] / rate,
        )
        return float(base * scale * parts.eager_mode_share(eager, causal, mode))
    if impl == "cudnn":
        if dtype not in ("float16", "bfloat16"):
            raise PredictError(f"cuDNN attention has no {dtype} kernel (float16, bfloat16 only)")
        # Fitted at the H100's dense fp16 rate; other devices: the same share of theirs.
        base = parts.attention_time(
            params, impl, batch, heads, seq_len, head_dim, causal, spec["fp16"]
        )
        scale = 1.0
    else:
        if dtype not in ("float16", "bfloat16") and impl == "FA2":
            raise PredictError(f"FlashAttention has no {dtype} kernel (float16, bfloat16 only)")
        if "mma_sync" not in spec:
            raise PredictError(
                f"{gpu}: no published mma.sync tensor rate (the FlashAttention kernels' path) "
                "in hyperf/data/devices.yaml; its fused attention cannot be predicted"
            )
        peak = spec["mma_sync"]
        if dtype in ("float32", "float64"):
            peak = peak * _rate(spec, gpu, dtype) / spec["fp16"]
        base = parts.attention_time(params, impl, batch, heads, seq_len, head_dim, causal, peak)
        scale = 1.0
    return float(base * scale * ATTENTION_SHARE[mode])


# ---------------------------------------------------------------- components


def _component(gemm=0.0, core=0.0, fft=0.0, elementwise=0.0, kernels=0) -> dict[str, float]:
    busy = gemm + core + fft + elementwise
    return {
        "gemm": gemm,
        "attention_core": core,
        "fft": fft,
        "elementwise": elementwise,
        "launch": max(0.0, kernels * LAUNCH_S - busy),
    }


def _bytes(workload: Workload, mode: str, *keys: str) -> float:
    moved = analytic_bytes(workload, "fwd_bwd" if mode == "fwd_bwd" else mode)
    return sum(moved.get(k, 0.0) for k in keys)


def _kernels(model: registry.TimeModel, mode: str) -> float:
    """Kernels a long convolution launches in ``mode``: its own counts, else 3.5× forward."""
    fwd_bwd = model.kernels_fwd_bwd or model.kernels * KERNEL_FACTOR["fwd_bwd"]
    return {"fwd": model.kernels, "bwd": fwd_bwd - model.kernels, "fwd_bwd": fwd_bwd}[mode]


def _long_conv(w: Workload, mode: str, gpu: str, convs: int) -> dict[str, float]:
    model = registry.get(w.op).time_model
    flops = analytic_flops(w, mode)  # raises for lengths a backend does not handle
    bandwidth = achieved_bandwidth(gpu)
    if model is None or model.kind not in ("torch_fft", "dft_matmul", "fused_dft"):
        raise PredictError(f"no time model for the long convolution of {w.op}")
    kernels = _kernels(model, mode) * convs
    seq = w.seq_len
    if model.kind == "torch_fft":
        fft = _torch_fft_seconds(flops.get("fft", 0.0), seq, gpu)
        elementwise = _bytes(w, mode, "long_conv") / bandwidth
    elif model.kind == "dft_matmul":  # dense DFT blocks of size model.block(L)
        block = model.block(seq)
        rows = flops.get("monarch_matmul", 0.0) / (2 * block * block)
        fft = gemm_seconds([(rows, block, block)], gpu, w.dtype)
        elementwise = (_bytes(w, mode, "long_conv") + 8 * flops.get("twiddle", 0.0)) / bandwidth
    else:  # fused_dft: the kernel's own launches; the backward runs it again for du
        arch = int(device(gpu)["arch"].removeprefix("sm_"))
        fft = _launch_seconds(model.launches(w, arch), w.dtype, gpu)
        fft *= 2 if mode == "fwd_bwd" else 1
        elementwise = 0.0
        if mode != "fwd":  # dk: torch FFTs, as in torch_fft
            elementwise = _torch_fft_seconds(analytic_flops(w, "bwd").get("fft", 0.0), seq, gpu)
    return _component(fft=fft, elementwise=elementwise, kernels=kernels)


def _torch_fft_seconds(fft_flops: float, seq_len: int, gpu: str) -> float:
    """torch.fft's real FFTs of size 2L, bandwidth-bound: each moves about a complex one of
    size L, 16 B per element per pass, log2(2L)/λ passes (λ: butterfly levels per pass,
    fitted)."""
    transforms = fft_flops / _fft(2 * seq_len)
    levels = parts.fitted_parameters()["fft"]["levels"]
    moved = transforms * seq_len * 16 * math.log2(2 * seq_len) / levels
    return moved / achieved_bandwidth(gpu, 2 * seq_len)


def _launch_seconds(launches: list[registry.Launch], dtype: str, gpu: str) -> float:
    """Each launch: the max of its dot FLOPs at the fitted GEMM efficiency of the tensor
    cores' rate for its operands (fp16/bf16; fp32 as three tf32 products) and its bytes at the
    achieved bandwidth, divided by how full its last wave of resident programs leaves the
    GPU (programs / (waves × SMs × programs per SM)); a device with no SM count: full."""
    spec = device(gpu)
    e_max = parts.fitted_parameters()["gemm"]["e_max"]
    rate = e_max * (spec["tf32"] / 3 if dtype == "float32" else spec["fp16"])
    seconds = 0.0
    for launch in launches:
        busy = max(launch.dot_flops / rate, launch.dram_bytes / achieved_bandwidth(gpu))
        slots = spec.get("sms", 0) * launch.programs_per_sm
        waves = math.ceil(launch.programs / slots) if slots else 1
        seconds += busy / (launch.programs / (waves * slots) if slots else 1.0)
    return seconds


def _hyena(w: Workload, mode: str, gpu: str) -> dict[str, dict[str, float]]:
    rows, d, n, seq = w.batch * w.seq_len, w.d_model, w.order, w.seq_len
    convs = n - 1 if w.variant == "safari" else n
    k = KERNEL_FACTOR[mode]
    width, channels = w.filter_order, d * convs
    projections = [(rows, (n + 1) * d, d), (rows, d, d)]
    ffn = [
        (seq, width, w.emb_dim),
        (seq, width, width),
        (seq, width, width),
        (seq, channels, width),
    ]
    bandwidth = achieved_bandwidth(gpu)
    return {
        "projections": _component(
            gemm=gemm_seconds(mode_shapes(projections, mode), gpu, w.dtype),
            kernels=KERNELS["projections"]["hyena"] * k,
        ),
        "filter": _component(
            gemm=gemm_seconds(mode_shapes(ffn, mode), gpu, w.dtype),
            elementwise=_bytes(w, mode, "filter") / bandwidth,
            kernels=(KERNELS["filter"] + 2 * w.modulate) * k,
        ),
        "short_conv": _component(
            elementwise=_bytes(w, mode, "short_conv") / bandwidth,
            kernels=KERNELS["short_conv"] * k,
        ),
        "long_conv": _long_conv(w, mode, gpu, convs),
        "gating": _component(
            elementwise=_bytes(w, mode, "gating") / bandwidth,
            kernels=(KERNELS["gating"] + n) * k,
        ),
    }


def _attention(
    w: Workload, mode: str, gpu: str, impl: str | None = None
) -> dict[str, dict[str, float]]:
    own_impl = impl is None
    model = registry.get(w.op).time_model
    impl = impl or (model.kind if model else None)
    if impl is None:
        modelled = [n for n in registry.names("attention") if registry.get(n).time_model]
        raise PredictError(f"no time model for {w.op}; modelled: " + ", ".join(modelled))
    rows, d = w.batch * w.seq_len, w.d_model
    heads = w.n_heads or max(1, d // 64)
    causal = getattr(w, "causal", True)
    core = attention_core_seconds(
        impl, w.batch, heads, w.seq_len, d // heads, causal, mode, gpu, w.dtype
    )
    kind = "eager" if impl == EAGER else "fused"
    if kind == "eager" and own_impl:
        core *= EAGER_SCORE_BYTES["hyperf"] / EAGER_SCORE_BYTES["baseline"]
    return {
        "projections": _component(
            gemm=gemm_seconds(mode_shapes([(rows, 3 * d, d), (rows, d, d)], mode), gpu, w.dtype),
            kernels=KERNELS["projections"]["attention"] * KERNEL_FACTOR[mode],
        ),
        "attention_core": _component(
            core=core, kernels=KERNELS["attention_core"][kind] * KERNEL_FACTOR[mode]
        ),
    }


def _blocks(w: Workload, mode: str, gpu: str) -> dict[str, float]:
    rows, d = w.batch * w.seq_len, w.d_model
    mlp = mode_shapes([(rows, 4 * d, d), (rows, d, 4 * d)], mode)
    return _component(
        gemm=w.depth * gemm_seconds(mlp, gpu, w.dtype),
        elementwise=_bytes(w, mode, "mlp_norms") / achieved_bandwidth(gpu),
        kernels=(w.depth * KERNELS["block"] + 1) * KERNEL_FACTOR[mode],
    )


def predict(
    workload: Workload,
    mode: str,
    gpu: str,
    region: str = "mixer",
    attention_impl: str | None = None,
) -> Prediction:
    """Predicted time of ``workload`` in ``mode`` on ``gpu`` (a name from ``devices()``).

    ``region="core"`` leaves out the projections (and, with depth, the blocks): the attention
    core alone as published attention benchmarks time it, or the Hyena core (filter, short
    conv, long convolutions, gating). ``attention_impl`` picks a published implementation
    (one of ``gpu_model.IMPLEMENTATIONS`` or "FA3") for an attention core instead of the op's
    own. Raises ``PredictError`` for what it cannot model.
    """
    spec = device(gpu)
    if mode == "infer":
        mode = "fwd"
    if mode not in MODES:
        raise PredictError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if region not in REGIONS:
        raise PredictError(f"region must be one of {', '.join(REGIONS)}; got {region!r}")
    _rate(spec, gpu, workload.dtype)
    family = workload.family
    notes = []
    if family == "longconv":
        components = {"long_conv": _long_conv(workload, mode, gpu, 1)}
    elif family == "hyena":
        components = _hyena(workload, mode, gpu)
    elif family == "attention":
        components = _attention(workload, mode, gpu, attention_impl)
    else:
        raise PredictError(f"no time model for {workload.op}")
    if workload.depth and family != "longconv":
        components = {
            name: {t: workload.depth * v for t, v in terms.items()}
            for name, terms in components.items()
        }
        components["blocks"] = _blocks(workload, mode, gpu)
    if region == "core":
        components = {
            name: terms
            for name, terms in components.items()
            if name not in ("projections", "blocks")
        }
    model = registry.get(workload.op).time_model
    if model and model.note:
        notes.append(model.note)
    if spec["arch"] != "sm_80" and model and model.kind == "FA2":
        notes.append(
            "FlashAttention-2's A100 efficiency carried to this device at its mma.sync "
            "rate (an assumption)"
        )
    if spec["arch"] != "sm_90" and model and model.kind == "cudnn":
        notes.append(
            "cuDNN attention's H100 efficiency carried to this device at its fp16 rate "
            "(an assumption)"
        )
    return Prediction(components, tuple(notes))


def prediction_row(workload: Workload, mode: str, gpu: str, region: str = "mixer") -> dict:
    """One plain row: the request and the predicted ms with its terms (for --json, CSV)."""
    p = predict(workload, mode, gpu, region)
    return {
        "op": workload.op,
        "gpu": gpu,
        "batch": workload.batch,
        "seq_len": workload.seq_len,
        "d_model": workload.d_model,
        "heads": workload.n_heads,
        "dtype": workload.dtype,
        "mode": mode,
        "region": region,
        "causal": getattr(workload, "causal", True) if workload.family == "attention" else None,
        "predicted_ms": 1e3 * p.seconds,
        **{f"{t}_ms": 1e3 * v for t, v in p.terms.items()},
        "bound_by": p.bound_by,
        "notes": "; ".join(p.notes),
        "kind": "PREDICTED",
    }


# ---------------------------------------------------------------- Figure 4.3

FIG4_3_OPS = {
    "hyena": "hyena:fft",
    "attention": "attention:sdpa-math",
    "flash_attention": "attention:flash_attn",
}
FIG4_3_READINGS = [(batch, mode) for batch in (1, 64) for mode in MODES]


def fig4_3_workload(series: str, batch: int, seq_len: int) -> Workload:
    return Workload(
        FIG4_3_OPS[series],
        batch=batch,
        seq_len=seq_len,
        d_model=768,
        dtype="float16",
        order=2,
        n_heads=12,
        emb_dim=33,
        modulate=False,
    )


def _fig4_3_seconds(series: str, batch: int, seq_len: int, mode: str, gpu: str) -> float:
    """The paper's series on ``gpu``. Its FlashAttention is version 1: safari's script imports
    ``flash_attn.flash_attention.FlashMHA`` (the 1.x API) and the paper predates
    FlashAttention-2, so that core uses the FA1 factors. Its attention is an eager PyTorch
    MHA, timed as the FlashAttention-2 benchmark's eager baseline."""
    impl = {"flash_attention": "FA1", "attention": EAGER}.get(series)
    return predict(fig4_3_workload(series, batch, seq_len), mode, gpu, attention_impl=impl).seconds


def validate_fig4_3(gpu: str = "A100-80GB") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predicted vs published for each reading (batch 1 or 64 × fwd, bwd or fwd_bwd).

    Returns (per-point table, per-reading summary: median and worst |error|, mean |log error|),
    best reading first. Nothing in the model was fitted on these points.
    """
    table = published()["paper_fig4_3"]
    rows = []
    for batch, mode in FIG4_3_READINGS:
        for series, values in table["series"].items():
            for seq_len, value in zip(table["seq_len"], values, strict=True):
                if value is None:
                    continue
                ms = 1e3 * _fig4_3_seconds(series, batch, seq_len, mode, gpu)
                rows.append(
                    {
                        "batch": batch,
                        "mode": mode,
                        "series": series,
                        "seq_len": seq_len,
                        "published_ms": value,
                        "predicted_ms": ms,
                        "error_pct": 100 * (ms / value - 1),
                        "log_error": math.log(ms / value),
                    }
                )
    points = pd.DataFrame(rows)
    summary = (
        points.assign(abs_log=points["log_error"].abs(), abs_pct=points["error_pct"].abs())
        .groupby(["batch", "mode"], as_index=False)
        .agg(
            mean_abs_log_error=("abs_log", "mean"),
            median_abs_error_pct=("abs_pct", "median"),
            worst_abs_error_pct=("abs_pct", "max"),
            within_35_pct=("abs_pct", lambda x: int((x <= 35).sum())),
            points=("abs_log", "size"),
        )
        .sort_values("mean_abs_log_error", ignore_index=True)
    )
    summary["typical_factor"] = np.exp(summary["mean_abs_log_error"])
    return points, summary


def predicted_crossover(
    hyena: str,
    attention: str,
    gpu: str,
    mode: str,
    batch: int,
    d_model: int,
    dtype: str = "float16",
    lengths=None,
) -> float | None:
    """L where the predicted Hyena time drops below the attention one (log-log interp.)."""
    from hyperf.analysis.crossover import interpolate_crossing

    lengths = lengths or [2**e for e in range(8, 21)]
    heads = max(1, d_model // 64)
    h = [predict(Workload(hyena, batch, n, d_model, dtype), mode, gpu).seconds for n in lengths]
    a = [
        predict(Workload(attention, batch, n, d_model, dtype, n_heads=heads), mode, gpu).seconds
        for n in lengths
    ]
    return interpolate_crossing(lengths, h, a)


def predicted_crossovers(d_model: int, gpus=("A100-80GB", "H100-SXM")) -> pd.DataFrame:
    """PREDICTED crossovers of hyena:fft with FlashAttention-2 and with SDPA's math backend on
    each GPU, at width ``d_model`` (batch 1, forward+backward, fp16): one row per pair."""
    rows = [
        {
            "device": gpu,
            "pair": f"hyena:fft vs {attention}",
            "D": d_model,
            "predicted crossover L": predicted_crossover(
                "hyena:fft", attention, gpu, "fwd_bwd", 1, d_model
            ),
        }
        for gpu in gpus
        for attention in ("attention:flash_attn", "attention:sdpa-math")
    ]
    return pd.DataFrame(rows)


FLASHFFTCONV_GPU = "H100-SXM"  # the device of FlashFFTConv's README table


def compare_flashfftconv(dtype: str = "float16") -> pd.DataFrame:
    """PREDICTED forward ms of hyperf's long convolutions on the H100-SXM — the device of
    FlashFFTConv's README table (B=64, H=768) — next to its published figures."""
    table = published()["flashfftconv_readme"]
    rows = []
    for index, seq_len in enumerate(table["seq_len"]):
        row = {"seq_len": seq_len}
        for name, values in table["series"].items():
            row[f"{name} (published)"] = values[index]
        for backend in ("fft", "triton"):
            w = Workload(f"longconv:{backend}", 64, seq_len, 768, dtype)
            try:
                seconds = predict(w, "fwd", FLASHFFTCONV_GPU).seconds
                row[f"longconv:{backend} (predicted)"] = 1e3 * seconds
            except ValueError:  # a length the backend does not handle
                row[f"longconv:{backend} (predicted)"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def predict_plan(points, gpus: list[str]) -> pd.DataFrame:
    """One row per planned point (``hyperf.sweep.plan.Point``) and GPU: the prediction, or why
    there is none (the spec skips it, or the operator does not handle that shape)."""
    rows = []
    for point in points:
        for gpu in gpus:
            base = {"point_id": point.id, "op": point.workload.op, "gpu": gpu}
            if point.skip_reason:
                rows.append(base | {"mode": point.mode, "not_predicted": point.skip_reason})
                continue
            try:
                rows.append(base | prediction_row(point.workload, point.mode, gpu))
            except PredictError:
                raise
            except ValueError as error:  # a shape the backend does not handle
                rows.append(base | {"mode": point.mode, "not_predicted": str(error)})
    frame = pd.DataFrame(rows)
    if "not_predicted" not in frame:
        frame["not_predicted"] = None
    return frame
