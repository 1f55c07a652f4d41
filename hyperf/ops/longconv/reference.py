"""The oracle: direct causal convolution in float64, O(L·Lk) per channel."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hyperf.ops.regions import region
from hyperf.registry import register


@register("longconv:reference", summary="float64 direct causal convolution (the oracle)")
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
