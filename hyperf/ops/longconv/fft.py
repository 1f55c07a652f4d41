"""FFT long convolution with torch.fft (cuFFT on CUDA, pocketfft/MKL on CPU).

Zero-padding both signals to n = 2L turns the FFT's circular convolution into the linear
(causal) one for the first L outputs.
"""

from __future__ import annotations

import torch

from hyperf.ops.longconv import compute_dtype
from hyperf.registry import register


@register(
    "longconv:fft", summary="torch.fft rfft/irfft at n = 2L in float32", oracle="longconv:reference"
)
def fft_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """rfft(u)·rfft(k)/n, irfft, keep the first L samples, add D·u."""
    seq_len = u.shape[-1]
    n = 2 * seq_len
    dtype = compute_dtype(u.dtype)
    k_f = torch.fft.rfft(k.to(dtype), n=n)
    u_f = torch.fft.rfft(u.to(dtype), n=n)
    y = torch.fft.irfft(u_f * k_f, n=n)[..., :seq_len]
    if D is not None:
        y = torch.addcmul(y, u.to(dtype), D.to(dtype).unsqueeze(-1))
    return y.to(u.dtype)
