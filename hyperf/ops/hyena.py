"""The Hyena operator (Poli et al., ICML 2023), to be read beside the paper's Algorithm 3.

Two variants, recorded with every result:

- ``safari`` — the reference code's semantics (HazyResearch/safari, standalone_hyena.py),
  the code the paper's runtime benchmark used. Parameter names and shapes match it, so its
  state dicts load with ``strict=True``. Order N does N gatings and N − 1 long convolutions:
  ``v ← conv(v ⊙ x_i)`` for x_i in reversed(x[1:]), then ``y = v ⊙ x[0]``.
- ``paper`` — Algorithm 3: z¹ = v, zⁿ⁺¹ = xⁿ ⊙ (hⁿ ∗ zⁿ + Dⁿ·zⁿ), N long convolutions.

The long convolutions go through ``hyperf.ops.long_conv`` with a selectable backend: every
``longconv:X`` in the registry, plugins' included, yields a ``hyena:X`` entry (``hyena_entry``)
whose FLOP, byte and memory terms are the operator's own around the backend's. Each
stage runs in a profiler region (``hyperf.ops.regions``) named as in the paper: projections,
short conv, filter generation, then the long convolution's own regions and the gates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from hyperf import registry
from hyperf.ops.costs import add_terms, element_size, linear_flops
from hyperf.ops.longconv import input_bytes, long_conv
from hyperf.ops.mixer import mixer_length
from hyperf.ops.regions import region
from hyperf.registry import Entry, Memory, Terms

if TYPE_CHECKING:
    from hyperf.workload import Workload

VARIANTS = ("safari", "paper")
# The paper's runtime benchmark convolved by FFT (safari's ``fftconv``): hyena over that
# backend is what its claims call "Hyena".
PAPER_BACKEND = "fft"


class Sin(nn.Module):
    """sin(freq·x) with a learnable frequency per feature (one module shared by all layers)."""

    def __init__(self, dim: int, w: float = 1.0):
        super().__init__()
        self.freq = nn.Parameter(w * torch.ones(1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.freq * x)


class PositionalEmbedding(nn.Module):
    """z(t) = [t, Re e^{−i f w}, Im e^{−i f w}] over t ∈ [0, 1], with ``bands`` frequencies."""

    def __init__(self, emb_dim: int, seq_len: int):
        super().__init__()
        t = torch.linspace(0, 1, seq_len)[None, :, None]  # (1, L, 1)
        bands = (emb_dim - 1) // 2
        w = 2 * math.pi * torch.linspace(0, seq_len - 1, seq_len)[None, :, None] / seq_len
        f = torch.linspace(1e-4, bands - 1, bands)[None, None]
        z = torch.exp(-1j * f * w)
        # The reference trains z (with a tiny learning rate) and keeps t as a buffer.
        self.z = nn.Parameter(torch.cat([t, z.real, z.imag], dim=-1))  # (1, L, emb_dim)
        self.register_buffer("t", t)

    def forward(self, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.z[:, :seq_len], self.t[:, :seq_len]


class ExponentialModulation(nn.Module):
    """h(t) ← h(t)·(exp(−t·|δ_c|) + shift): channel c decays to 1e-2 over 0.3 … 1.5 of [0, 1]."""

    def __init__(
        self,
        channels: int,
        fast_decay_pct: float = 0.3,
        slow_decay_pct: float = 1.5,
        target: float = 1e-2,
        modulate: bool = True,
        shift: float = 0.0,
    ):
        super().__init__()
        self.modulate = modulate
        self.shift = shift
        max_decay = math.log(target) / fast_decay_pct
        min_decay = math.log(target) / slow_decay_pct
        self.register_buffer("deltas", torch.linspace(min_decay, max_decay, channels)[None, None])

    def forward(
        self, t: torch.Tensor, h: torch.Tensor, channels_first: bool = False
    ) -> torch.Tensor:
        """t (1, L, 1) and h (1, L, C); or t (1, 1, L) and h (1, C, L) if ``channels_first``."""
        if not self.modulate:
            return h
        deltas = self.deltas.mT if channels_first else self.deltas
        window = torch.exp(-t * deltas.abs())
        return h * (window + self.shift if self.shift else window)


class HyenaFilter(nn.Module):
    """Implicit long filters h = FFN(PositionalEmbedding(t)) · window(t), one per channel.

    ``bias`` is the skip term D of the long convolution (one per channel).
    """

    def __init__(
        self,
        channels: int,
        seq_len: int,
        emb_dim: int = 3,
        filter_order: int = 64,
        w: float = 1.0,
        num_inner_mlps: int = 2,
        modulate: bool = True,
    ):
        super().__init__()
        if emb_dim < 3 or emb_dim % 2 == 0:
            raise ValueError(f"emb_dim must be odd and at least 3; got {emb_dim}")
        self.channels = channels
        self.bias = nn.Parameter(torch.randn(channels))
        self.pos_emb = PositionalEmbedding(emb_dim, seq_len)
        sin = Sin(filter_order, w)
        layers: list[nn.Module] = [nn.Linear(emb_dim, filter_order), sin]
        for _ in range(num_inner_mlps):
            layers += [nn.Linear(filter_order, filter_order), sin]
        layers.append(nn.Linear(filter_order, channels, bias=False))
        self.implicit_filter = nn.Sequential(*layers)
        self.modulation = ExponentialModulation(channels, modulate=modulate)

    def filter(self, seq_len: int) -> torch.Tensor:
        """The filters for the first ``seq_len`` positions, shape (L, channels).

        Computed channels-first and returned as a transposed view, because the FFT reads each
        channel's filter as a contiguous row: ``filter(L).T`` is contiguous.
        """
        z, t = self.pos_emb(seq_len)
        features = self.implicit_filter[:-1](z)[0]  # (L, W)
        h = torch.mm(self.implicit_filter[-1].weight, features.T).unsqueeze(0)  # (1, C, L)
        return self.modulation(t.mT, h, channels_first=True)[0].T


class HyenaOperator(nn.Module):
    """Hyena mixer, (B, L, D) → (B, L, D), for any L ≤ l_max."""

    def __init__(
        self,
        d_model: int,
        l_max: int,
        order: int = 2,
        filter_order: int = 64,
        emb_dim: int = 3,
        w: float = 1.0,
        modulate: bool = True,
        variant: str = "safari",
        longconv: str = "fft",
        short_filter_order: int = 3,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
        min_order = 2 if variant == "safari" else 1
        if order < min_order:
            raise ValueError(
                f"order must be at least {min_order} for variant {variant!r}; got {order}"
            )
        if f"longconv:{longconv}" not in registry.names("longconv"):
            allowed = ", ".join(n.split(":")[1] for n in registry.names("longconv"))
            raise ValueError(f"longconv must be one of {allowed}; got {longconv!r}")
        self.d_model, self.l_max, self.order = d_model, l_max, order
        self.variant, self.longconv = variant, longconv
        # safari: x⁰…x^{N−1} and v (N+1 streams), N−1 filters; paper: x¹…xᴺ and v, N filters.
        inner_width = d_model * (order + 1)
        num_filters = order - 1 if variant == "safari" else order
        self.in_proj = nn.Linear(d_model, inner_width)
        self.out_proj = nn.Linear(d_model, d_model)
        self.short_filter = nn.Conv1d(
            inner_width,
            inner_width,
            short_filter_order,
            padding=short_filter_order - 1,
            groups=inner_width,
        )
        self.filter_fn = HyenaFilter(
            d_model * num_filters, l_max, emb_dim, filter_order, w, modulate=modulate
        )

    def project(self, u: torch.Tensor) -> torch.Tensor:
        """in_proj then the causal short convolution: (B, L, D) → (B, (N+1)·D, L), contiguous.

        Equal to ``short_filter(in_proj(u).transpose(1, 2))[..., :L]`` but laid out for the
        FFT (sequence axis last) without a transpose: the matmul reads u transposed for free,
        and the 3-tap filter runs as shifted multiply-adds, with in_proj's bias folded in.
        """
        batch, seq_len, _ = u.shape
        # One GEMM over all batch rows: (C, D) @ (D, B·L) → (C, B, L) → (B, C, L), each row of
        # L contiguous (fully contiguous for B = 1); the bias is added by the short conv.
        with region("projections"):
            projected = torch.mm(self.in_proj.weight, u.reshape(-1, self.d_model).T)
            projected = projected.view(-1, batch, seq_len).transpose(0, 1)
        with region("short conv"):
            return causal_depthwise_conv(
                projected, self.short_filter.weight, self.short_filter.bias, self.in_proj.bias
            )

    @property
    def num_long_convs(self) -> int:
        return self.order - 1 if self.variant == "safari" else self.order

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        seq_len = mixer_length(u, self.d_model, self.l_max)
        # Projection: in_proj, then the causal short convolution (Algorithm 3, lines 1–2).
        streams = self.project(u)  # (B, (N+1)·D, L)
        *x, v = streams.split(self.d_model, dim=1)
        # Filters (Algorithm 3, line 3): (L, n·D) → (n, D, L); skip terms D → (n, D).
        with region("filter generation"):
            h = self.filter_fn.filter(seq_len).transpose(0, 1).reshape(-1, self.d_model, seq_len)
            skip = self.filter_fn.bias.reshape(-1, self.d_model)
        # long_conv marks its own regions (its stages, and the gates as "pointwise/gating").
        if self.variant == "safari":
            for i, x_i in enumerate(reversed(x[1:])):
                v = long_conv(v, h[i], skip[i], self.longconv, pre=x_i)
            with region("pointwise/gating"):
                y = v * x[0]
        else:  # Algorithm 3, line 4: z ← xⁿ ⊙ (hⁿ ∗ z + Dⁿ·z)
            y = v
            for n, x_n in enumerate(x):
                y = long_conv(y, h[n], skip[n], self.longconv, post=x_n)
        with region("projections"):
            return self.out_proj(y.transpose(1, 2))


class CausalDepthwiseConv(torch.autograd.Function):
    """Conv1d(groups=C, padding=K−1)[..., :L] of (x + input_bias), as K shifted multiply-adds.

    x (B, C, L); weight (C, 1, K); bias, input_bias (C,). With taps w = weight[:, 0] and
    x̃ = x + input_bias (zero before t = 0):   y[t] = bias + Σ_{d<K} w[K−1−d]·x̃[t−d].
    Each tap is one pass over memory in either direction; the backward is written out because
    autograd's route through in-place slices zero-fills and copies full-size gradients:

        dx[t] = Σ_d w[K−1−d]·g[t+d]      dw[K−1−d] = Σ_{b,t≥d} g[t]·x̃[t−d]      dbias = Σ g
    """

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, input_bias: torch.Tensor
    ) -> torch.Tensor:
        taps = weight[:, 0, :]
        kernel_size = taps.shape[-1]
        # The input bias as a per-channel constant, minus the taps that fall before t = 0.
        y = torch.addcmul((bias + input_bias * taps.sum(-1)).unsqueeze(-1), x, taps[:, -1:])
        for delay in range(1, kernel_size):
            tap = taps[:, kernel_size - 1 - delay].unsqueeze(-1)
            y[..., delay:].addcmul_(x[..., :-delay], tap)
            y[..., :delay] -= input_bias.unsqueeze(-1) * tap
        ctx.save_for_backward(x, taps, input_bias)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor):
        x, taps, input_bias = ctx.saved_tensors
        kernel_size = taps.shape[-1]
        grad_x = torch.mul(g, taps[:, -1:])
        grad_taps = torch.empty_like(taps)
        grad_taps[:, -1] = torch.einsum("bct,bct->c", g, x)
        # Σ_b Σ_{t'≥t} g[t'] per channel, zero past the end.
        tail_sums = F.pad(g.sum(0).flip(-1).cumsum(-1).flip(-1), (0, kernel_size))
        for delay in range(1, kernel_size):
            tap = taps[:, kernel_size - 1 - delay]
            grad_x[..., :-delay].addcmul_(g[..., delay:], tap.unsqueeze(-1))
            grad_taps[:, kernel_size - 1 - delay] = torch.einsum(
                "bct,bct->c", g[..., delay:], x[..., :-delay]
            )
        # x̃ = x + input_bias wherever t − d ≥ 0: tap j sees the bias weighted Σ_{t≥K−1−j} g[t].
        seen = tail_sums[:, :kernel_size].flip(-1)  # (C, K); no index tensor: graph-capturable
        grad_taps += input_bias.unsqueeze(-1) * seen
        grad_bias = tail_sums[:, 0]
        grad_input_bias = (taps * seen).sum(-1)
        return grad_x, grad_taps.unsqueeze(1), grad_bias, grad_input_bias


def causal_depthwise_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, input_bias: torch.Tensor
) -> torch.Tensor:
    """See ``CausalDepthwiseConv``: (B, C, L) → (B, C, L)."""
    return CausalDepthwiseConv.apply(x, weight, bias, input_bias)


# --- hyena:X for every longconv:X, with its costs ------------------------------------------


def convolutions(w: Workload) -> int:
    """Long convolutions one operator does: N − 1 (safari) or N (paper)."""
    return w.order - 1 if w.variant == "safari" else w.order


def hyena_flops(w: Workload, conv: Entry) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs of one HyenaOperator: projections, short conv, the implicit
    filter's FFN and modulation, gating, and the backend's terms for each convolution. They
    add up to the paper's Appendix A.2 accounting plus what it leaves out (the filter's FFN,
    gating and skip terms), each under its own key."""
    rows, d, seq_len, n = w.batch * w.seq_len, w.d_model, w.seq_len, w.order
    convs = convolutions(w)
    filter_channels = d * convs
    fwd: Terms = {}
    bwd: Terms = {}
    fwd["in_proj"], bwd["in_proj"] = linear_flops(rows, d, (n + 1) * d)
    fwd["out_proj"], bwd["out_proj"] = linear_flops(rows, d, d)
    fwd["short_conv"] = 2.0 * 3 * rows * (n + 1) * d + rows * (n + 1) * d  # 3 taps + bias
    bwd["short_conv"] = 2 * fwd["short_conv"]
    width, emb = w.filter_order, w.emb_dim
    ffn = 2.0 * seq_len * (emb * width + 2 * width * width + width * filter_channels)
    fwd["filter_ffn"], bwd["filter_ffn"] = ffn, 2 * ffn
    fwd["filter_modulation"] = 2.0 * seq_len * filter_channels if w.modulate else 0.0
    bwd["filter_modulation"] = fwd["filter_modulation"]
    fwd["gating"], bwd["gating"] = float(n * rows * d), 2.0 * n * rows * d
    conv_fwd, conv_bwd = conv.flop_terms(w)
    add_terms(fwd, conv_fwd, convs)
    add_terms(bwd, conv_bwd, convs)
    return fwd, bwd


def hyena_bytes(w: Workload, conv: Entry) -> Terms:
    """Least bytes of one forward: the convolutions (a backend that fuses the gates also reads
    one), projections, short conv, the gate products that go through memory (the safari
    variant's last product always does) and the filter."""
    elem, d, n, convs = element_size(w), w.d_model, w.order, convolutions(w)
    plane = w.batch * w.seq_len * d
    fused = hasattr(conv.fn, "gated")  # the backend applies the gates (``long_conv``)
    terms: Terms = {}
    add_terms(terms, conv.byte_terms(w), convs)
    if fused:
        add_terms(terms, {"long_conv": elem * plane}, convs)
    terms["projections"] = elem * (plane + (n + 1) * plane + 2 * plane) + elem * (
        (n + 1) * d * d + d * d
    )
    terms["short_conv"] = elem * 2 * (n + 1) * plane
    gated_passes = (1 if w.variant == "safari" else 0) if fused else n
    terms["gating"] = elem * 3 * gated_passes * plane
    terms["filter"] = 4 * w.seq_len * d * convs
    return terms


def hyena_memory(w: Workload, conv: Entry) -> Memory:
    """Planes of B·L·D activations plus what each convolution keeps besides its input (a
    stream kept already) and the filter's FFN, as ``HyenaOperator`` keeps them: in_proj's
    input; the short conv's input and output (the N+1 streams, which the gates keep); per
    convolution its output (kept by the next gate) and its input when that is a fresh gate
    product (none where the backend fuses the gates); out_proj's input; the FFN's 9 L×W
    activations (3 linear inputs, 2 per Sin) and the modulation window (C×L)."""
    seq, d, n, convs = w.seq_len, w.d_model, w.order, convolutions(w)
    elem, plane = element_size(w), w.batch * seq * d
    fresh_inputs = convs if w.variant == "safari" else convs - 1
    if hasattr(conv.fn, "gated"):
        fresh_inputs = 0
    planes = 1 + 2 * (n + 1) + convs + fresh_inputs + 1
    own = conv.memory(w)
    saved = elem * planes * plane + convs * (own.saved - input_bytes(w))
    saved += elem * seq * 9 * w.filter_order
    saved += elem * seq * convs * d if w.modulate else 0
    return Memory(saved, own.scratch)


def _over(conv: Entry, terms: Callable[..., Any], fact: object) -> Any:
    """``terms`` with ``conv`` bound, or None (unknown) where the backend's own is."""
    return None if fact is None else functools.partial(terms, conv=conv)


def hyena_entry(conv: Entry) -> Entry:
    """``hyena:X`` over ``longconv:X``: built with that backend, and knowing what it knows
    (where it runs, its longest L, its terms, its time model, its colour); checked against
    the Hyena operator over the backend's oracle."""
    backend = conv.impl

    def build(d_model: int, l_max: int, **hparams) -> HyenaOperator:
        return HyenaOperator(d_model, l_max, longconv=backend, **hparams)

    return Entry(
        f"hyena:{backend}",
        build,
        conv.available,
        f"Hyena operator with the {backend!r} long convolution",
        oracle=None if conv.oracle is None else f"hyena:{conv.oracle.split(':', 1)[1]}",
        max_seq_len=conv.max_seq_len,
        interpreted=conv.interpreted,
        flop_terms=_over(conv, hyena_flops, conv.flop_terms),
        byte_terms=_over(conv, hyena_bytes, conv.byte_terms),
        memory=_over(conv, hyena_memory, conv.memory),
        time_model=conv.time_model,
        colour=conv.colour,
        derived_from=conv.name,
        paper_role="Hyena" if backend == PAPER_BACKEND else None,
    )


registry.derive("longconv", hyena_entry)
