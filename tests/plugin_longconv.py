"""A long-convolution backend from outside hyperf, in one file, loaded by naming this module in
``HYPERF_PLUGINS`` (see tests/test_plugin_backend.py): a direct causal convolution by
``conv1d`` in the input's own dtype. It states its FLOP terms; it gives no byte or memory
model (unknown to hyperf, never another backend's) and no colour (the report picks a free
one). hyperf derives ``hyena:direct_test`` from it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hyperf.registry import register


def direct_conv_flops(w) -> tuple[dict, dict]:
    """(forward, backward): output t sums t + 1 products, plus the skip D·u."""
    macs = w.batch * w.d_model * w.seq_len * (w.seq_len + 1) / 2
    forward = {"direct_conv": 2 * macs, "skip": 2.0 * w.batch * w.d_model * w.seq_len}
    return forward, {k: 2 * v for k, v in forward.items()}


@register(
    "longconv:direct_test",
    summary="direct causal conv1d in the input's dtype (tests only)",
    flop_terms=direct_conv_flops,
)
def direct_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    channels, filter_len = k.shape
    taps = k.flip(-1).unsqueeze(1).to(u.dtype)
    y = F.conv1d(F.pad(u, (filter_len - 1, 0)), taps, groups=channels)
    return y if D is None else y + u * D.to(u.dtype).unsqueeze(-1)
