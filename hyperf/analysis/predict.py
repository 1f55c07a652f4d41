"""Predicted GPU times from the analytic FLOP and byte models — predictions, never measurements.

No GPU is lent to this project, so what it cannot measure it predicts, with a roofline:

    t = max(F_mm / (e_mm·P), B_mm / (e_bw·W))  +  B_rest / (e_bw·W)  +  K·τ

- F_mm: FLOPs of the matrix-multiply terms (projections, the filter's FFN, MLPs, the fused
  attention core, the Monarch DFT blocks), run on tensor cores at peak P for the dtype;
- B_mm: bytes those matmuls move; B_rest: bytes of every other pass (FFTs, short conv,
  gating, the L×L scores of eager attention), at memory bandwidth W;
- e_mm, e_bw: achievable fractions of peak (assumptions, below); K·τ: kernel launches.

Each max(·, ·) is the roofline bound of ``hyperf.measure.ceilings.roofline_bound`` at the
effective rates e_mm·P and e_bw·W.

The fused Triton long convolution is one more term, its DFT matmuls and its bytes overlapped:
max(F_dft / (e_mm·P_tf32 / p), B_conv / (e_bw·W)), with p = 3 tf32 passes for fp32 inputs
(tf32x3) and 1 for fp16/bf16 — its dots take fp32 operands, so the tf32 peak applies, half the
fp16 one.

The model is checked against the paper's Figure 4.3 (``validate_fig4_3``); its error per
point is reported next to every prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd
import yaml

from hyperf.measure.ceilings import roofline_bound
from hyperf.measure.flops import analytic_bytes, analytic_flops
from hyperf.workload import Workload

MATMUL_EFFICIENCY = 0.6  # large fp16 GEMMs reach 60–80% of datasheet peak; fused attention less
BANDWIDTH_EFFICIENCY = 0.8  # streaming kernels reach ~80% of datasheet bandwidth
LAUNCH_S = 5e-6  # per kernel launch and tail, eager PyTorch
MATMUL_TERMS = {"in_proj", "out_proj", "wqkv", "filter_ffn", "mlp", "monarch_matmul"}
FUSED_ATTENTION = ("sdpa-flash", "sdpa-efficient", "sdpa-cudnn", "flash_attn")
TF32_PASSES = {"float32": 3, "float16": 1, "bfloat16": 1}  # tl.dot input_precision per dtype


@cache
def devices() -> dict[str, dict]:
    """The device table, numbers as floats (YAML reads ``312e+12`` as a string)."""
    table = yaml.safe_load(resources.files("hyperf.data").joinpath("devices.yaml").read_text())
    return {
        name: {k: v if k == "source" else float(v) for k, v in spec.items()}
        for name, spec in table.items()
    }


@cache
def published() -> dict[str, dict]:
    return yaml.safe_load(resources.files("hyperf.data").joinpath("published.yaml").read_text())


@dataclass(frozen=True)
class Prediction:
    seconds: float
    compute_s: float
    memory_s: float
    launch_s: float
    bound_by: str


def kernel_count(workload: Workload, mode: str) -> int:
    """Kernels an eager forward launches, roughly (×3 with the backward)."""
    impl = workload.op.split(":", 1)[1]
    per_conv = 2 if impl == "triton" else 6  # the filter's FFT and the fused kernel
    if workload.family == "longconv":
        forward = per_conv
    elif workload.family == "hyena":
        convs = workload.order - 1 if workload.variant == "safari" else workload.order
        forward = 16 + per_conv * convs
    else:
        forward = 6 if impl in FUSED_ATTENTION else 12
    forward = forward * max(1, workload.depth) + 8 * workload.depth
    return forward * (3 if mode in ("bwd", "fwd_bwd") else 1)


def predict(workload: Workload, mode: str, device: str) -> Prediction:
    """Predicted time of ``workload`` in ``mode`` on a GPU from ``devices()``."""
    if device not in devices():
        raise ValueError(f"unknown device {device!r}; known: {', '.join(devices())}")
    spec = devices()[device]
    rate = spec["fp32"] if workload.dtype == "float32" else spec["fp16"]
    flops = analytic_flops(workload, mode)
    moved = analytic_bytes(workload, mode)
    impl = workload.op.split(":", 1)[1]
    matmul = sum(v for k, v in flops.items() if k in MATMUL_TERMS)
    if impl in FUSED_ATTENTION:
        matmul += flops.get("attention_core", 0.0) / 0.7  # fused attention runs below GEMM rate
    matmul_bytes = moved.get("projections", 0.0)
    rest = moved["total"] - matmul_bytes
    if impl in FUSED_ATTENTION:
        rest -= moved.get("attention_core", 0.0)  # q, k, v in and out once: inside the matmul
        matmul_bytes += moved.get("attention_core", 0.0)
    bandwidth = BANDWIDTH_EFFICIENCY * spec["memory_bandwidth"]
    fused_s = 0.0
    if impl == "triton":  # the fused kernel: its DFTs on tf32 tensor cores, bytes overlapped
        dft, conv_bytes = flops.get("monarch_matmul", 0.0), moved.get("long_conv", 0.0)
        matmul, rest = matmul - dft, rest - conv_bytes
        tf32 = spec["tf32"] / TF32_PASSES[workload.dtype]
        fused_s = roofline_bound(dft, conv_bytes, MATMUL_EFFICIENCY * tf32, bandwidth).seconds
    matmul_s = roofline_bound(matmul, matmul_bytes, MATMUL_EFFICIENCY * rate, bandwidth).seconds
    compute_s = matmul_s + fused_s
    memory_s = rest / bandwidth
    launch_s = kernel_count(workload, mode) * LAUNCH_S
    total = compute_s + memory_s + launch_s
    bound = max((compute_s, "compute"), (memory_s, "memory"), (launch_s, "launch"))[1]
    return Prediction(total, compute_s, memory_s, launch_s, bound)


FIG4_3_OPS = {
    "hyena": "hyena:fft",
    "attention": "attention:sdpa-math",
    "flash_attention": "attention:flash_attn",
}


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


def validate_fig4_3(device: str = "A100-80GB") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predicted vs published for each candidate setting (batch 1 or 64, fwd or fwd_bwd).

    Returns (per-point table, per-candidate summary with the mean |log error|); the
    candidate with the smallest error is the model's best guess of what the figure timed.
    """
    table = published()["paper_fig4_3"]
    rows = []
    for batch in (1, 64):
        for mode in ("fwd", "fwd_bwd"):
            for series, values in table["series"].items():
                for seq_len, value in zip(table["seq_len"], values, strict=True):
                    if value is None:
                        continue
                    p = predict(fig4_3_workload(series, batch, seq_len), mode, device)
                    rows.append(
                        {
                            "batch": batch,
                            "mode": mode,
                            "series": series,
                            "seq_len": seq_len,
                            "published_ms": value,
                            "predicted_ms": 1e3 * p.seconds,
                            "bound_by": p.bound_by,
                            "log_error": math.log(1e3 * p.seconds / value),
                        }
                    )
    points = pd.DataFrame(rows)
    points["error_pct"] = 100 * (points["predicted_ms"] / points["published_ms"] - 1)
    summary = (
        points.assign(abs_log=points["log_error"].abs())
        .groupby(["batch", "mode"], as_index=False)
        .agg(mean_abs_log_error=("abs_log", "mean"), points=("abs_log", "size"))
        .sort_values("mean_abs_log_error")
    )
    summary["typical_factor"] = summary["mean_abs_log_error"].map(math.exp)
    return points, summary


def predicted_crossover(
    hyena: str,
    attention: str,
    device: str,
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
    h = [predict(Workload(hyena, batch, n, d_model, dtype), mode, device).seconds for n in lengths]
    a = [
        predict(Workload(attention, batch, n, d_model, dtype, n_heads=heads), mode, device).seconds
        for n in lengths
    ]
    return interpolate_crossing(lengths, h, a)


def compare_flashfftconv(device: str = "H100-SXM", dtype: str = "float16") -> pd.DataFrame:
    """PREDICTED forward ms of hyperf's long convolutions in FlashFFTConv's README setting
    (B=64, H=768), next to its published H100-SXM figures (gates left out of our model: two
    extra reads, a few percent of the bytes)."""
    table = published()["flashfftconv_readme"]
    rows = []
    for index, seq_len in enumerate(table["seq_len"]):
        row = {"seq_len": seq_len}
        for name, values in table["series"].items():
            row[f"{name} (published)"] = values[index]
        for backend in ("fft", "triton"):
            w = Workload(f"longconv:{backend}", 64, seq_len, 768, dtype)
            try:
                row[f"longconv:{backend} (predicted)"] = 1e3 * predict(w, "fwd", device).seconds
            except ValueError:  # a length the backend does not handle
                row[f"longconv:{backend} (predicted)"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)
