"""Two long-convolution backends whose forward takes a known time, for testing the crossover
search against an analytic answer: ``longconv:linear_test`` takes C_MS·(L/L0) ms and
``longconv:quadratic_test`` C_MS·(L/L0)² ms, so they cross at exactly L = L0 (the call's own
overhead, the same for both, cancels). Each computes the true convolution (hyperf's FFT
path, so the oracle passes), then spins until its time is up. L0 and C_MS come from the
environment (``HYPERF_TEST_L0``, ``HYPERF_TEST_C_MS``) so every worker process agrees."""

from __future__ import annotations

import os
import time

import torch

from hyperf.ops.longconv.fft import fft_conv
from hyperf.registry import register


def _costs() -> tuple[float, float]:
    return float(os.environ.get("HYPERF_TEST_L0", "2900")), float(
        os.environ.get("HYPERF_TEST_C_MS", "5.0")
    )


def _spin_until(start: float, ms: float) -> None:
    deadline = start + ms / 1e3
    while time.perf_counter() < deadline:
        pass


@register("longconv:linear_test", summary="FFT conv taking C·L/L0 ms (tests only)")
def linear_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    start = time.perf_counter()
    y = fft_conv(u, k, D)
    l0, c_ms = _costs()
    _spin_until(start, c_ms * u.shape[-1] / l0)
    return y


@register("longconv:quadratic_test", summary="FFT conv taking C·(L/L0)² ms (tests only)")
def quadratic_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    start = time.perf_counter()
    y = fft_conv(u, k, D)
    l0, c_ms = _costs()
    _spin_until(start, c_ms * (u.shape[-1] / l0) ** 2)
    return y
