"""What every (B, L, D) mixer and every optional-package backend checks, said once."""

from __future__ import annotations

import importlib.util
import sys

import torch


def mixer_length(u: torch.Tensor, d_model: int, l_max: int) -> int:
    """L of a mixer's input ``u`` (B, L, D), refusing a wrong shape or an L past ``l_max``
    with a clear message."""
    if u.dim() != 3 or u.shape[-1] != d_model:
        raise ValueError(f"u must have shape (B, L, {d_model}); got {tuple(u.shape)}")
    seq_len = u.shape[1]
    if seq_len > l_max:
        raise ValueError(
            f"sequence length {seq_len} exceeds l_max={l_max}; build the operator with a "
            "larger l_max"
        )
    return seq_len


def importable(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (or it is imported already):
    an optional package's availability, asked without paying for its import."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a __spec__
        return False
