"""Depth stacks: ``depth`` pre-norm residual blocks of (mixer, MLP), for the depth axis.

Profiler regions (``hyperf.ops.regions``): "norm" and "mlp"; the residual adds are in none.
The stack's own costs (``stack_flops``, ``stack_bytes``, ``stack_saved``: everything but the
mixers) are added to the mixer's by ``hyperf.measure``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import torch
from torch import nn

from hyperf import registry
from hyperf.ops.costs import element_size, linear_flops
from hyperf.ops.regions import region
from hyperf.params import MIXERS
from hyperf.registry import Terms

if TYPE_CHECKING:
    from hyperf.workload import Workload


class Block(nn.Module):
    """x + mixer(LN(x)), then x + MLP(LN(x)) — the GPT-2 / safari block layout."""

    def __init__(self, mixer: nn.Module, d_model: int, mlp_ratio: int = 4):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with region("norm"):
            h = self.norm1(x)
        x = x + self.mixer(h)  # the mixer marks its own regions
        with region("norm"):
            h = self.norm2(x)
        with region("mlp"):
            h = self.mlp(h)
        return x + h


class Stack(nn.Module):
    """``depth`` blocks and a final LayerNorm; (B, L, D) → (B, L, D)."""

    def __init__(self, blocks: list[Block], d_model: int):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        with region("norm"):
            return self.norm(x)


def build_mixer(mixer: str, d_model: int, l_max: int, **hparams) -> nn.Module:
    """Build a mixer's registry entry (``hyena:*``, ``ssm:*``, ``attention:*``) as a (B, L, D)
    module."""
    entry = registry.get(mixer)
    if entry.family not in MIXERS:
        raise ValueError(
            f"mixer must be a {', '.join(f + ':*' for f in MIXERS)} name; got {mixer!r}"
        )
    if "causal" in hparams and not _takes(entry.fn, "causal"):
        raise ValueError(
            f"{mixer}'s builder takes no 'causal' parameter: it builds causal attention only"
        )
    return entry.fn(d_model, l_max, **hparams)


def _takes(fn, name: str) -> bool:
    """Whether ``fn`` accepts the keyword argument ``name`` (by name or by ``**kwargs``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read: let the call decide
        return True
    return any(
        (p.name == name and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD
        for p in parameters
    )


def build_model(
    mixer: str, depth: int, d_model: int, l_max: int, mlp_ratio: int = 4, **hparams
) -> Stack:
    """A stack of ``depth`` pre-norm residual blocks around the named mixer."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1; got {depth}")
    blocks = [
        Block(build_mixer(mixer, d_model, l_max, **hparams), d_model, mlp_ratio)
        for _ in range(depth)
    ]
    return Stack(blocks, d_model)


def stack_flops(w: Workload) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs of ``w.depth`` blocks without their mixers: per block the MLP
    (D → 4D → D), two LayerNorms (mean, variance, normalise, scale, shift: 5 per element) and
    the residual adds; and the final LayerNorm."""
    rows, d = w.batch * w.seq_len, w.d_model
    up, down = linear_flops(rows, d, 4 * d), linear_flops(rows, 4 * d, d)
    norms = 2 * 5.0 * rows * d
    fwd = {"mlp": up[0] + down[0], "norm": norms, "residual": 2.0 * rows * d}
    bwd = {"mlp": up[1] + down[1], "norm": 2 * norms, "residual": 0.0}
    fwd = {k: w.depth * v for k, v in fwd.items()}
    bwd = {k: w.depth * v for k, v in bwd.items()}
    fwd["norm"] += 5.0 * rows * d  # the final LayerNorm
    bwd["norm"] += 10.0 * rows * d
    return fwd, bwd


def stack_bytes(w: Workload) -> Terms:
    """Least bytes one forward of the blocks moves without their mixers."""
    elem, d, plane = element_size(w), w.d_model, w.batch * w.seq_len * w.d_model
    return {"mlp_norms": w.depth * elem * (2 * plane + 8 * plane + 8 * d * d + 4 * plane)}


def stack_saved(w: Workload) -> tuple[float, float]:
    """(per block without its mixer, the final norm): bytes kept for backward. Per block the
    two LayerNorms (input, and mean and rstd in fp32) and the MLP (input, 4D pre-activation,
    4D activation); the mixer's input, the first norm's output, is counted by the mixer."""
    elem, plane, rows = element_size(w), w.batch * w.seq_len * w.d_model, w.batch * w.seq_len
    block = 2 * (elem * plane + 8 * rows) + elem * (plane + 8 * plane)
    return block, elem * plane + 8 * rows
