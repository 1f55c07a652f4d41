"""The oracle: direct causal convolution in float64, O(L·Lk) per channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from hyperf.ops.longconv import input_bytes, unfused_conv_bytes
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms, register

if TYPE_CHECKING:
    from hyperf.workload import Workload


def reference_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """Direct causal convolution: output t sums t+1 products (the causal triangle)."""
    macs = batch * channels * seq_len * (seq_len + 1) / 2
    forward = {"direct_conv": 2 * macs, "skip": 2 * batch * channels * seq_len}
    return forward, {k: 2 * v for k, v in forward.items()}


def _memory(w: Workload) -> Memory:
    """The input, and the float64 filter."""
    return Memory(input_bytes(w) + 8 * w.d_model * w.seq_len)


@register(
    "longconv:reference",
    summary="float64 direct causal convolution (the oracle)",
    flop_terms=lambda w: reference_conv_terms(w.batch, w.d_model, w.seq_len),
    byte_terms=unfused_conv_bytes,
    memory=_memory,
    colour="#17becf",  # cyan
)
def reference_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """Direct sum y[t] = Σ_s k[s]·u[t−s] (+ D·u), computed in float64, returned in u's dtype."""
    channels, filter_len = k.shape
    with region("long conv"):
        u64, k64 = u.double(), k.double()
        # conv1d is a cross-correlation: flip the filter and pad on the left for causality.
        y = F.conv1d(F.pad(u64, (filter_len - 1, 0)), k64.flip(-1).unsqueeze(1), groups=channels)
        if D is not None:
            y = y + u64 * D.double().unsqueeze(-1)
        return y.to(u.dtype)
