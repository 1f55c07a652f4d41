"""FFT long convolution with torch.fft (cuFFT on CUDA, pocketfft/MKL on CPU).

Zero-padding both signals to n = 2L turns the FFT's circular convolution into the linear
(causal) one for the first L outputs. The backward pass is written out (an autograd.Function)
because autograd's own route through rfft/irfft takes full complex FFTs and zero-fills;
the adjoints of a convolution are correlations, which need only real FFTs:

    y  = irfft(U·K)[:L] + D·u
    du = irfft(G·conj(K))[:L] + D·g        dk = Σ_b irfft(G·conj(U))[:Lk]        dD = Σ g·u

with U, K, G the n-point rffts of u, k and the incoming gradient g.

The forward marks its stages as regions (``hyperf.ops.regions``): "fft forward", the
spectral product and D·u as "pointwise/gating", "fft inverse"; so this backend is never
wrapped in "long conv" as well. The backward is left to the profiler's autograd view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from hyperf.ops.costs import fft_flops
from hyperf.ops.longconv import compute_dtype, input_bytes, unfused_conv_bytes
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms, TimeModel, register

if TYPE_CHECKING:
    from hyperf.workload import Workload


class FFTConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
        seq_len = u.shape[-1]
        n = 2 * seq_len
        dtype = compute_dtype(u.dtype)
        with region("fft forward"):
            u_c = u.to(dtype)
            k_f = torch.fft.rfft(k.to(dtype), n=n)
            u_f = torch.fft.rfft(u_c, n=n)
        with region("pointwise/gating"):
            y_f = u_f * k_f
        with region("fft inverse"):
            y = torch.fft.irfft(y_f, n=n)[..., :seq_len]
        with region("pointwise/gating"):
            if D is not None:
                y = torch.addcmul(y, u_c, D.to(dtype).unsqueeze(-1))
            y = y.to(u.dtype)
        ctx.save_for_backward(u, u_f, k_f, D)
        ctx.filter_len, ctx.k_dtype = k.shape[-1], k.dtype
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        u, u_f, k_f, D = ctx.saved_tensors
        seq_len, n = u.shape[-1], 2 * u.shape[-1]
        g = grad.to(u_f.real.dtype)
        g_f = torch.fft.rfft(g, n=n)
        grad_u = grad_k = grad_D = None
        if ctx.needs_input_grad[0]:
            grad_u = torch.fft.irfft(g_f * k_f.conj(), n=n)[..., :seq_len]
            if D is not None:
                grad_u = torch.addcmul(grad_u, g, D.to(g.dtype).unsqueeze(-1))
            grad_u = grad_u.to(u.dtype)
        if ctx.needs_input_grad[1]:
            cross = (g_f * u_f.conj()).sum(0)  # Σ over the batch before the inverse FFT
            grad_k = torch.fft.irfft(cross, n=n)[..., : ctx.filter_len].to(ctx.k_dtype)
        if D is not None and ctx.needs_input_grad[2]:
            grad_D = torch.einsum("bct,bct->c", g, u.to(g.dtype)).to(D.dtype)
        return grad_u, grad_k, grad_D


def fft_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs of the ``fft`` long convolution with its skip term."""
    n, bins, rows = 2 * seq_len, seq_len + 1, batch * channels
    forward = {
        "fft": rows * 2 * fft_flops(n) + channels * fft_flops(n),
        "spectral_product": 6 * rows * bins,
        "skip": 2 * rows * seq_len,
    }
    # du: rfft(g), product with conj(K), irfft; dk: product with conj(U), sum over the batch,
    # irfft once per channel; dD and the D·g term of du.
    backward = {
        "fft": rows * 2 * fft_flops(n) + channels * fft_flops(n),
        "spectral_product": 12 * rows * bins + 2 * (batch - 1) * channels * bins,
        "skip": 4 * rows * seq_len,
    }
    return forward, backward


def _memory(w: Workload) -> Memory:
    """The input, and the complex64 spectra of the input and of the filter (L + 1 bins)."""
    rows = w.batch * w.d_model
    return Memory(input_bytes(w) + 8 * (rows + w.d_model) * (w.seq_len + 1))


@register(
    "longconv:fft",
    summary="torch.fft rfft/irfft at n = 2L in float32",
    oracle="longconv:reference",
    flop_terms=lambda w: fft_conv_terms(w.batch, w.d_model, w.seq_len),
    byte_terms=unfused_conv_bytes,
    memory=_memory,
    time_model=TimeModel("torch_fft", kernels=7),  # kernels: torch.profiler, forward
    colour="#1f77b4",  # blue
)
def fft_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """rfft(u)·rfft(k), irfft, keep the first L samples, add D·u."""
    return FFTConv.apply(u, k, D)
