"""Causal multi-head attention mixers with the Hyena contract: (B, L, D) in and out.

All share the projections (``Wqkv``: D → 3D, ``out_proj``: D → D) and differ only in the
attention core, so a timing difference between them is the core's:

- ``sdpa-<backend>``: ``F.scaled_dot_product_attention`` pinned to one SDPA backend (math,
  flash, efficient, cudnn);
- ``flash_attn``: the flash-attn package (CUDA only);
- ``naive``: softmax(QKᵀ/√d + mask)·V in eager PyTorch, materialising the L×L scores.

Profiler regions (``hyperf.ops.regions``): the projections, and the core as "attention core".
"""

from __future__ import annotations

import functools
import importlib.util
import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from hyperf import registry
from hyperf.ops.regions import region

SDPA_BACKENDS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}

Core = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def naive_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B, H, L, d) → (B, H, L, d) by the textbook formula, quadratic memory."""
    seq_len = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = torch.ones(seq_len, seq_len, dtype=torch.bool, device=q.device).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    # Softmax in at least float32 (half-precision exponentials lose the tail).
    softmax_dtype = torch.promote_types(scores.dtype, torch.float32)
    return torch.softmax(scores.to(softmax_dtype), dim=-1).to(q.dtype) @ v


def sdpa_core(backend: str) -> Core:
    def core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(SDPA_BACKENDS[backend]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    return core


def flash_attn_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    from flash_attn import flash_attn_func  # optional dependency, CUDA only

    # flash-attn wants (B, L, H, d).
    out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True)
    return out.transpose(1, 2)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with projections around a pluggable core."""

    def __init__(self, d_model: int, l_max: int, n_heads: int | None = None, core: str = "naive"):
        super().__init__()
        n_heads = n_heads or max(1, d_model // 64)
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        self.d_model, self.l_max, self.n_heads, self.core_name = d_model, l_max, n_heads, core
        self.Wqkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        if core == "naive":
            self.core: Core = naive_core
        elif core == "flash_attn":
            self.core = flash_attn_core
        elif core.startswith("sdpa-") and core[5:] in SDPA_BACKENDS:
            self.core = sdpa_core(core[5:])
        else:
            allowed = ["naive", "flash_attn", *(f"sdpa-{b}" for b in SDPA_BACKENDS)]
            raise ValueError(f"core must be one of {', '.join(allowed)}; got {core!r}")

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(f"u must have shape (B, L, {self.d_model}); got {tuple(u.shape)}")
        batch, seq_len, _ = u.shape
        if seq_len > self.l_max:
            raise ValueError(f"sequence length {seq_len} exceeds l_max={self.l_max}")
        with region("projections"):
            qkv = self.Wqkv(u).view(batch, seq_len, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        with region("attention core"):
            y = self.core(qkv[0], qkv[1], qkv[2])  # (B, H, L, d)
        with region("projections"):
            return self.out_proj(y.transpose(1, 2).reshape(batch, seq_len, self.d_model))


@functools.cache
def _probe_sdpa(backend: str, device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    """Ask PyTorch itself: run a tiny causal problem pinned to the backend."""
    if device.type == "cuda" and not torch.cuda.is_available():
        return False, "CUDA is not available on this machine"
    q = torch.randn(1, 2, 16, 64, device=device, dtype=dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sdpa_core(backend)(q, q, q)
        except RuntimeError:
            # On CUDA, PyTorch warns why each fused kernel was rejected; on CPU it says nothing.
            why = "; ".join(str(w.message).strip().splitlines()[0] for w in caught)
            dtype_name = str(dtype).removeprefix("torch.")
            return False, (
                f"PyTorch has no SDPA {backend} kernel for {device.type}/{dtype_name}"
                + (f" ({why})" if why else "")
            )
    return True, ""


def _sdpa_available(backend: str) -> registry.AvailableFn:
    return lambda device, dtype: _probe_sdpa(backend, torch.device(device.type), dtype)


def _flash_attn_available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    if importlib.util.find_spec("flash_attn") is None:
        return False, "the flash-attn package is not installed (pip install 'hyperf[flash]')"
    if device.type != "cuda":
        return False, "flash-attn runs on CUDA only"
    if dtype not in (torch.float16, torch.bfloat16):
        return False, f"flash-attn supports float16 and bfloat16, not {dtype}"
    return True, ""


def _register_attention(core: str, available: registry.AvailableFn, summary: str) -> None:
    def build(d_model: int, l_max: int, n_heads: int | None = None) -> CausalSelfAttention:
        return CausalSelfAttention(d_model, l_max, n_heads, core)

    oracle = None if core == "naive" else "attention:naive"
    registry.add(registry.Entry(f"attention:{core}", build, available, summary, oracle))


_register_attention(
    "naive", registry.always_available, "eager softmax(QKᵀ/√d + mask)·V, quadratic memory"
)
_register_attention("flash_attn", _flash_attn_available, "flash-attn package, causal")
for _name in SDPA_BACKENDS:
    _register_attention(
        f"sdpa-{_name}",
        _sdpa_available(_name),
        f"torch scaled_dot_product_attention, {_name} backend",
    )
