"""Slot for the Triton Monarch-FFT long convolution (issue 6); registered as unavailable."""

from __future__ import annotations

import torch

from hyperf.registry import register


def _available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    return False, "the Triton backend is not implemented yet"


@register(
    "longconv:triton",
    available=_available,
    summary="fused Monarch FFT convolution in Triton",
    oracle="longconv:reference",
)
def triton_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    raise NotImplementedError("the Triton long-convolution backend is not implemented yet")
