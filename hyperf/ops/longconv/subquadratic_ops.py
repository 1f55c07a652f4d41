"""NVIDIA's fused causal FFT long convolution (``subquadratic_ops_torch``), as a backend.

The kernel ships in the pip package ``subquadratic-ops-torch-cu12`` (or ``-cu13``), CUDA only;
it is what NVIDIA's nvSubquadratic runs as ``fft_backend="subq_ops"`` for causal 1D Hyena.
What this adapter relies on, from the nvSubquadratic repository (github.com/NVIDIA-BioNeMo/
nvSubquadratic, main at 51291129a5f8, 2026-06-30):

- import path ``from subquadratic_ops_torch.fft_causal_conv1d import fft_causal_conv1d``
  (``nvsubquadratic/ops/fftconv_custom.py``, ``benchmarks/ops/bench_subquadratic_fftconv.py``);
- ``fft_causal_conv1d(x, weight)``: x (B, H, L), weight (H, K) shared over the batch (per-sample
  filters are refused upstream), K ≤ L (K = L is tested), returns (B, H, L): the causal
  convolution y[t] = Σ_s weight[h, s]·x[t − s], which ``tests/ops/test_fftconv_custom_1d.py``
  checks against a torch.fft reference, gradients included;
- no skip term and no gates: nvSubquadratic's wrapper adds ``shortcut·x`` itself, after the
  kernel, and calls the kernel on float32 tensors, casting other dtypes to float32 and the
  result back (``causal_fftconv1d_bhl`` in ``fftconv_custom.py``); that file says the kernel
  fuses FFT, product and inverse FFT into one launch;
- "any Ampere+ GPU" (``bench_subquadratic_fftconv.py``'s docstring).

This adapter does the same: float16/bfloat16 are cast to float32 for the kernel and back, D·u
is added in torch. float64 is passed through unchanged so that a float64 stand-in can check
the contract (the real kernel is never handed float64: ``available`` refuses it).

The package is imported only when the backend runs, so hyperf imports without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from hyperf.ops.costs import element_size
from hyperf.ops.longconv import check_inputs, compute_dtype, input_bytes
from hyperf.ops.longconv.fft import fft_conv_terms
from hyperf.ops.mixer import importable
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms, register

if TYPE_CHECKING:
    from hyperf.workload import Workload

PACKAGE = "subquadratic_ops_torch"
MODULE = f"{PACKAGE}.fft_causal_conv1d"
NEEDS_PACKAGE = "needs the subquadratic-ops-torch-cu12 or -cu13 package (CUDA only)"
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MIN_ARCH = (8, 0)  # "any Ampere+ GPU"


def _installed() -> bool:
    return importable(PACKAGE)


def _available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    if not _installed():
        return False, NEEDS_PACKAGE
    if device.type != "cuda":
        return False, "CUDA only"
    if dtype not in DTYPES:
        return False, (
            f"dtype {dtype} not supported; the kernel runs in float32 "
            "(float16 and bfloat16 are cast to it)"
        )
    if torch.cuda.get_device_capability(device) < MIN_ARCH:
        return False, "needs an sm_80 or newer GPU"
    return True, ""


def _kernel():
    """``fft_causal_conv1d``, imported on first use."""
    try:
        from subquadratic_ops_torch.fft_causal_conv1d import fft_causal_conv1d
    except ImportError as error:
        raise RuntimeError(f"longconv:subquadratic-ops {NEEDS_PACKAGE}: {error}") from error
    return fft_causal_conv1d


def _bytes(w: Workload) -> Terms:
    """Least traffic of this adapter's passes: u and k cast to float32 and y cast back (none
    in float32), the fused kernel reading u and k and writing y in float32 (no spectra leave
    it), and the skip pass reading u and y and writing y in the workload's dtype."""
    size, plane, filt = element_size(w), w.batch * w.d_model * w.seq_len, w.d_model * w.seq_len
    casts = 0 if size == 4 else (size + 4) * (2 * plane + filt)
    kernel = 4 * (2 * plane + filt)
    skip = 3 * size * plane
    return {"long_conv": casts + kernel + skip}


def _memory(w: Workload) -> Memory:
    """At least what the backward needs: the input, its float32 copy (when it is not float32)
    and the float32 filter. What the package's own autograd keeps beyond that is not known."""
    copy = 0 if element_size(w) == 4 else 4 * w.batch * w.d_model * w.seq_len
    return Memory(input_bytes(w) + copy + 4 * w.d_model * w.seq_len)


@register(
    "longconv:subquadratic-ops",
    available=_available,
    summary="NVIDIA subquadratic_ops_torch.fft_causal_conv1d (fused FFT conv, float32, CUDA)",
    oracle="longconv:reference",
    # The FFT convolution's FLOPs (n = 2L transforms, product, skip), as the fft backend's:
    # nvSubquadratic's torch reference pads to min(L + K, 2L) = 2L at K = L.
    flop_terms=lambda w: fft_conv_terms(w.batch, w.d_model, w.seq_len),
    byte_terms=_bytes,
    memory=_memory,
    # None: the predictor's kinds are separate cuFFT passes ("torch_fft") or tensor-core DFT
    # matmuls ("dft_matmul", "fused_dft"); a fused cuFFT-style kernel is neither.
    time_model=None,
    colour="#5254a3",  # indigo
)
def subquadratic_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """k ∗ u by ``fft_causal_conv1d`` in float32 (float64 kept), plus D·u, in u's dtype."""
    check_inputs(u, k, D)  # the backend may be called directly, not only through long_conv
    fft_causal_conv1d = _kernel()
    dtype = compute_dtype(u.dtype)
    u_c = u.to(dtype).contiguous()
    with region("long conv"):
        y = fft_causal_conv1d(u_c, k.to(dtype).contiguous())
    if tuple(y.shape) != tuple(u.shape):
        raise RuntimeError(
            f"{MODULE}.fft_causal_conv1d returned shape {tuple(y.shape)} for input "
            f"{tuple(u.shape)}; expected the input's shape"
        )
    with region("pointwise/gating"):
        y = y.to(dtype)
        if D is not None:
            y = torch.addcmul(y, u_c, D.to(dtype).unsqueeze(-1))
        return y.to(u.dtype)
