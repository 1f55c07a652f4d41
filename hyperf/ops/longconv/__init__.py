"""Long (causal, filter-as-long-as-the-input) convolution with interchangeable backends.

Every backend computes, for u (B, C, L), k (C, Lk) with Lk ≤ L and D (C,) or None::

    y[b, c, t] = Σ_{s ≤ t, s < Lk} k[c, s] · u[b, c, t − s]  +  D[c] · u[b, c, t]

and is differentiable in u, k and D. Backends live one per module and register themselves
as ``longconv:<name>`` in ``hyperf.registry``.

Hyena's recurrence gates each convolution: ``post ⊙ conv(pre ⊙ u)``. ``long_conv`` takes the
gates too; a backend that fuses them into its kernel says so by giving its function a
``gated(u, k, D, pre, post)`` attribute, and the others get the two products done in torch.

Each backend's file also registers what hyperf knows about it (``hyperf.registry.Entry``):
its FLOP, byte and memory terms, how the GPU predictor times it, its report colour; the
``hyena:<name>`` operator over it is derived from that (``hyperf.ops.hyena``).

Profiler regions (``hyperf.ops.regions``): each backend marks its own work, "long conv" for
one that does not separate its stages, the FFT stages for ``fft``; the gates done here are
"pointwise/gating". Callers add no region around ``long_conv``, so nothing is counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from hyperf import registry
from hyperf.ops.costs import element_size
from hyperf.ops.regions import region

if TYPE_CHECKING:
    from hyperf.workload import Workload


def check_inputs(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> None:
    """Raise ValueError naming the argument when shapes do not fit the contract."""
    if u.dim() != 3:
        raise ValueError(f"u must have shape (B, C, L); got {u.dim()} dimensions {tuple(u.shape)}")
    if k.dim() != 2:
        raise ValueError(f"k must have shape (C, Lk); got {k.dim()} dimensions {tuple(k.shape)}")
    _, channels, seq_len = u.shape
    if k.shape[0] != channels:
        raise ValueError(f"k has {k.shape[0]} channels but u has {channels}; they must match")
    if not 1 <= k.shape[1] <= seq_len:
        raise ValueError(f"k has length {k.shape[1]}; it must be between 1 and L={seq_len}")
    if D is not None and tuple(D.shape) != (channels,):
        raise ValueError(f"D must have shape ({channels},) or be None; got {tuple(D.shape)}")


def long_conv(
    u: torch.Tensor,
    k: torch.Tensor,
    D: torch.Tensor | None = None,
    backend: str = "fft",
    pre: torch.Tensor | None = None,
    post: torch.Tensor | None = None,
) -> torch.Tensor:
    """Causal long convolution of u (B, C, L) with k (C, Lk), plus the skip D·u.

    With gates (each u's shape): post ⊙ (k ∗ v + D·v), v = pre ⊙ u. Returns (B, C, L) in u's
    dtype. ``backend`` is one of ``hyperf.registry.names("longconv")`` (``fft``, ``blocked``,
    ``reference``, ``triton``).
    """
    if f"longconv:{backend}" not in registry.names("longconv"):
        allowed = ", ".join(n.split(":")[1] for n in registry.names("longconv"))
        raise ValueError(f"backend must be one of {allowed}; got {backend!r}")
    check_inputs(u, k, D)
    for name, gate in (("pre", pre), ("post", post)):
        if gate is not None and gate.shape != u.shape:
            raise ValueError(
                f"{name} must have u's shape {tuple(u.shape)}; got {tuple(gate.shape)}"
            )
    fn = registry.get(f"longconv:{backend}").fn
    if pre is None and post is None:
        return fn(u, k, D)
    if hasattr(fn, "gated"):
        return fn.gated(u, k, D, pre, post)
    if pre is not None:
        with region("pointwise/gating"):
            u = pre * u
    y = fn(u, k, D)  # the backend marks its own regions
    if post is not None:
        with region("pointwise/gating"):
            y = post * y
    return y


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """FFTs run in float32 (cuFFT has no bf16 FFT); float64 stays float64 for gradcheck."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def input_bytes(w: Workload) -> int:
    """Bytes of one (B, C, L) input in the workload's dtype (C = ``d_model``)."""
    return element_size(w) * w.batch * w.d_model * w.seq_len


def unfused_conv_bytes(w: Workload) -> registry.Terms:
    """Least traffic of one convolution done as separate torch passes: u read and y written in
    the workload's dtype, their float32 copies written and read, and complex64 spectra of
    L + 1 bins (the input's and the product's per row, the filter's per channel)."""
    seq, plane = w.seq_len, w.batch * w.d_model * w.seq_len
    spectra = 8 * (seq + 1) * (w.batch * w.d_model * 3 + w.d_model)
    return {"long_conv": 4 * 2 * plane * 2 + spectra + element_size(w) * plane * 2}
