"""Long convolution by a blocked (Monarch) FFT: every DFT is a small dense matrix multiply.

For n = N1·M, write the input index as n1·M + m and the output frequency as k1 + N1·k2.
Then (Cooley–Tukey, as used by FlashFFTConv, Fu et al. 2023)::

    X[k1 + N1·k2] = Σ_m W_M^{m·k2} · W_n^{m·k1} · Σ_{n1} W_{N1}^{n1·k1} · x[n1·M + m]

i.e. reshape to (N1, M); multiply by the N1×N1 DFT matrix along the first axis; multiply
pointwise by the twiddles W_n^{k1·m}; transform the second axis the same way (recursively,
so n = N1·N2 or N1·N2·N3). The spectrum comes out in "digit-reversed" order (k1, k2); a
convolution never needs natural order, because the filter's spectrum is laid out by the same
transform and the inverse transform undoes the steps in reverse and returns natural order.

Complex numbers are carried as (real, imag) pairs of real tensors, so every step is a real
matmul in whatever dtype the matrix units want (fp16/bf16 with fp32 accumulation on CUDA,
fp32 on CPU).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from hyperf.ops.longconv import compute_dtype, input_bytes, unfused_conv_bytes
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms, TimeModel, register

if TYPE_CHECKING:
    from hyperf.workload import Workload

Complex = tuple[torch.Tensor, torch.Tensor | None]  # (real, imag); imag None means zero

MAX_FACTOR = 128  # largest DFT block; 2 factors cover n ≤ 16384, 3 factors n ≤ 2M


def fft_size(seq_len: int, filter_len: int) -> int:
    """Smallest power of two that holds the linear convolution (L + Lk − 1 samples)."""
    return max(2, 1 << math.ceil(math.log2(seq_len + filter_len - 1)))


def monarch_factors(n: int, max_factor: int = MAX_FACTOR) -> list[int]:
    """Split a power of two into as few, as equal as possible, power-of-two factors."""
    bits = n.bit_length() - 1
    if 1 << bits != n:
        raise ValueError(f"n must be a power of two; got {n}")
    count = max(1, math.ceil(bits / int(math.log2(max_factor))))
    parts = [bits // count + (1 if i < bits % count else 0) for i in range(count)]
    return [1 << p for p in parts if p > 0] or [1]


@functools.lru_cache(maxsize=64)
def _dft(size: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin parts of the DFT matrix W[j, k] = exp(−2πi·jk/size) = C − iS."""
    jk = torch.outer(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64)
    )
    angle = 2 * math.pi * torch.remainder(jk, size) / size
    return torch.cos(angle).to(device, dtype), torch.sin(angle).to(device, dtype)


@functools.lru_cache(maxsize=64)
def _twiddle(
    rows: int, cols: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of 2π·r·c/(rows·cols) for the (rows, cols) block."""
    rc = torch.outer(
        torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64)
    )
    angle = 2 * math.pi * rc / (rows * cols)
    return torch.cos(angle).to(device, dtype), torch.sin(angle).to(device, dtype)


def _times(a: Complex, b: Complex) -> Complex:
    """Pointwise complex product a·b."""
    ar, ai = a
    br, bi = b
    if ai is None and bi is None:
        return ar * br, None
    if ai is None:
        return ar * br, ar * bi
    if bi is None:
        return ar * br, ai * br
    return ar * br - ai * bi, ar * bi + ai * br


def _dft_rows(x: Complex, inverse: bool) -> Complex:
    """DFT (or unnormalised inverse DFT) along axis −2 by matmul with the DFT matrix."""
    xr, xi = x
    C, S = _dft(xr.shape[-2], xr.device, xr.dtype)
    sign = 1 if inverse else -1  # W = C − iS forward, conj(W) = C + iS inverse
    if xi is None:
        return C @ xr, sign * (S @ xr)
    return C @ xr - sign * (S @ xi), C @ xi + sign * (S @ xr)


def _dft_cols(x: Complex, inverse: bool) -> Complex:
    """DFT (or unnormalised inverse) along the last axis (the matrix is symmetric)."""
    xr, xi = x
    C, S = _dft(xr.shape[-1], xr.device, xr.dtype)
    sign = 1 if inverse else -1
    if xi is None:
        return xr @ C, sign * (xr @ S)
    return xr @ C - sign * (xi @ S), xi @ C + sign * (xr @ S)


def monarch_fft(x: Complex, factors: list[int]) -> Complex:
    """DFT along the last axis; output in the digit-reversed order described above."""
    if len(factors) == 1:
        return _dft_cols(x, inverse=False)
    rows, cols = factors[0], math.prod(factors[1:])
    xr, xi = x
    shape = (*xr.shape[:-1], rows, cols)
    y = _dft_rows((xr.reshape(shape), None if xi is None else xi.reshape(shape)), inverse=False)
    y = _times(y, _rotation(rows, cols, xr, inverse=False))
    yr, yi = monarch_fft(y, factors[1:])
    return yr.flatten(-2), None if yi is None else yi.flatten(-2)


def _rotation(rows: int, cols: int, like: torch.Tensor, inverse: bool) -> Complex:
    """Twiddles W_n^{±r·c} as a complex pair (cos, ∓sin)."""
    cos, sin = _twiddle(rows, cols, like.device, like.dtype)
    return cos, (sin if inverse else -sin)


def monarch_ifft_real(x: Complex, factors: list[int]) -> torch.Tensor:
    """Real part of the unnormalised inverse DFT of a digit-reversed spectrum, natural order."""
    return _monarch_ifft(x, factors)[0]


def _monarch_ifft(x: Complex, factors: list[int]) -> Complex:
    if len(factors) == 1:
        return _dft_cols(x, inverse=True)
    rows, cols = factors[0], math.prod(factors[1:])
    xr, xi = x
    shape = (*xr.shape[:-1], rows, cols)
    y = _monarch_ifft((xr.reshape(shape), None if xi is None else xi.reshape(shape)), factors[1:])
    y = _times(y, _rotation(rows, cols, xr, inverse=True))
    yr, yi = _dft_rows(y, inverse=True)
    return yr.flatten(-2), None if yi is None else yi.flatten(-2)


def matmul_dtype(u: torch.Tensor) -> torch.dtype:
    """Half-precision matmuls (fp32 accumulation) on CUDA; fp32 (or fp64) elsewhere."""
    if u.is_cuda and u.dtype in (torch.float16, torch.bfloat16):
        return u.dtype
    return compute_dtype(u.dtype)


def monarch_fft_flops(n: int, real_input: bool) -> tuple[float, float]:
    """(matmul, twiddle) FLOPs of ``monarch_fft`` on one length-n row.

    A stage of factor f does an f×f DFT on n/f columns: 2 real matmuls for real input, 4 for
    complex, i.e. 4·f·n or 8·f·n FLOPs; between stages, 6 FLOPs per element of twiddle (2 if
    the data are still real).
    """
    factors = monarch_factors(n)
    matmul = twiddle = 0.0
    real = real_input
    for index, factor in enumerate(factors):
        matmul += (4 if real else 8) * factor * n
        if index < len(factors) - 1:
            twiddle += (2 if real else 6) * n
        real = False
    return matmul, twiddle


def blocked_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """(forward, backward): transforms of k (per channel) and u, product, inverse, skip.

    The DFT matrices are constants, so the backward of each transform is one transposed
    transform: the backward costs what the forward's transforms did, plus two spectral
    products and the skip gradients.
    """
    n = fft_size(seq_len, seq_len)
    rows = batch * channels
    real_matmul, real_twiddle = monarch_fft_flops(n, True)
    complex_matmul, complex_twiddle = monarch_fft_flops(n, False)
    forward = {
        "monarch_matmul": (channels + rows) * real_matmul + rows * complex_matmul,
        "twiddle": (channels + rows) * real_twiddle + rows * complex_twiddle,
        "spectral_product": 6 * rows * n,
        "skip": 2 * rows * seq_len,
    }
    backward = {
        "monarch_matmul": forward["monarch_matmul"],
        "twiddle": forward["twiddle"],
        "spectral_product": 12 * rows * n,
        "skip": 4 * rows * seq_len,
    }
    return forward, backward


def _memory(w: Workload) -> Memory:
    """The input, and the real and imaginary float32 planes of both padded spectra."""
    rows = w.batch * w.d_model
    return Memory(input_bytes(w) + 4 * 2 * (rows + w.d_model) * fft_size(w.seq_len, w.seq_len))


def _block(seq_len: int) -> float:
    """The DFT blocks' size at length L (the geometric mean of the factors)."""
    factors = monarch_factors(fft_size(seq_len, seq_len))
    return math.prod(factors) ** (1 / len(factors))


@register(
    "longconv:blocked",
    summary="Monarch FFT as blocks of DFT matmuls (FlashFFTConv-style)",
    oracle="longconv:reference",
    flop_terms=lambda w: blocked_conv_terms(w.batch, w.d_model, w.seq_len),
    byte_terms=unfused_conv_bytes,
    memory=_memory,
    time_model=TimeModel("dft_matmul", kernels=68, block=_block),
    colour="#2ca02c",  # green
)
def blocked_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """Pad to a power of two n ≥ L + Lk − 1, multiply spectra, transform back, add D·u.

    One "long conv" region: the stages interleave in matmuls and are not timed apart.
    """
    with region("long conv"):
        return monarch_conv(u, k, D, matmul_dtype(u))


def monarch_conv(
    u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """The convolution with every DFT a matmul in ``dtype``.

    The filter's spectrum, with the inverse DFT's 1/n folded in, is computed in fp32 and only
    then cast. Dividing the half-precision filter taps by n first, as before, pushed them
    below fp16's normal range at long L (|k|/n ≈ 6e-8 at L=64K). The magnitudes the
    half-precision matmuls see are unchanged: splitting 1/n as 1/√n on each side instead
    overflowed fp16 on an H100 at L ≥ 32K.
    """
    seq_len, filter_len = u.shape[-1], k.shape[-1]
    n = fft_size(seq_len, filter_len)
    factors = monarch_factors(n)
    wide = compute_dtype(k.dtype)
    kr, ki = monarch_fft((F.pad(k.to(wide), (0, n - filter_len)) / n, None), factors)
    k_f = (kr.to(dtype), None if ki is None else ki.to(dtype))
    u_f = monarch_fft((F.pad(u.to(dtype), (0, n - seq_len)), None), factors)
    y = monarch_ifft_real(_times(u_f, k_f), factors)[..., :seq_len]
    if D is not None:
        y = y + u.to(dtype) * D.to(dtype).unsqueeze(-1)
    return y.to(u.dtype)
