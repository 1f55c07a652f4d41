"""StripedHyena 2's three Hyena operators: Hyena-SE, Hyena-MR and Hyena-LI.

Ku et al. (2025), "Systems and Algorithms for Convolutional Multi-Hybrid Language Models at
Scale" (arXiv 2503.01868), the architecture of Evo 2, builds its convolutional layers from
one gated block with three kinds of filter, each suited to a range of the sequence:

- **Hyena-SE** (short explicit): a few learned taps per filter (7 in Evo 2), applied as a
  direct causal convolution; ``hyena:se``.
- **Hyena-MR** (medium regularised): explicit taps (128 in Evo 2) under an exponential decay
  window, the paper's regularisation of explicit filters; ``hyena:mr``.
- **Hyena-LI** (long implicit): a filter as long as the input, in modal form
  h[t] = Σ_r R_r·λ_r^t (16 modes in Evo 2), materialised over L and applied by FFT;
  ``hyena:li``.

All three share the block, (B, L, D) → (B, L, D)::

    x1, x2, v = featurizer(in_proj(u))        # D → 3D, then a 3-tap causal depthwise conv
    z = x2 ⊙ v
    z = h ∗ z + D ⊙ z                          # causal, per channel
    y = out_proj(x1 ⊙ z)

What follows the public code (Zymrael/vortex ``HyenaCascade`` and ``ParallelGatedConvBlock``,
Zymrael/savanna's ``hyena_se``/``hyena_mr``/``hyena_li`` operators), read for understanding
and written anew here:

- the input projection has no bias, the featurizer (3 taps) none either, the output
  projection has one (Evo 2's configurations: ``qkv_proj_bias: false``,
  ``short_filter_bias: false``, ``hyena_out_proj_bias: true``);
- filter groups: SE and MR filters are shared by groups of 16 consecutive channels (Evo 2 7B:
  256 filters at D = 4096; 40B: 512 at 8192), each filter repeated over its group, so the
  default here is D/16 filters where 16 divides D, else one per channel (``filter_groups``
  overrides it); LI has one filter per channel;
- the skip term D ⊙ z: MR and LI have one per channel; SE has none (the code adds it only for
  filters of 128 taps or more: a short explicit filter's own first tap plays that role);
- MR's window: tap s of filter g is scaled by exp(−r_g·s/(K−1)), with decay rates r_g
  log-spaced over [10⁻¹, 10²] across the filters (savanna's "normal" preset). savanna
  normalises s by its training context rather than by the K taps; here the window spans the
  filter itself, so the operator does not change with ``l_max``;
- LI's poles are real by default, as in Evo 2's checkpoints: λ = exp(−exp(a)), so 0 < λ < 1
  for any parameter a (savanna's modal filter guarantees stability the same way);
  ``complex_poles=True`` gives λ = exp(−exp(a) + iθ) and h = Re Σ_r R_r·λ_r^t.

What differs, on purpose or by omission:

- no fused kernels: the paper trains MR (and SE) with a two-stage blocked
  gate–convolution–gate kernel; here MR is an FFT convolution through hyperf's
  ``long_conv(..., backend="fft")`` with its K taps zero-padded (the FFT of size 2L ≥ L + K
  is the backend's own), which is what Evo 2's inference code does for filters of 128 taps or
  more. At K = 128 a direct convolution costs 2K = 256 FLOPs per output element against the
  FFT's O(log L) passes, and the FFT path is the one hyperf can time on every device;
- SE runs ``torch.nn.functional.conv1d`` (depthwise, left-padded), or on CUDA the
  ``causal_conv1d`` package's ``causal_conv1d_fn`` when it imports and supports the width
  (2 to 4 taps: Evo 2's 7-tap SE uses conv1d as well). The choice is made at each forward;
  the package is never imported with this module;
- LI's modes are summed one at a time, each under activation checkpointing when a backward
  will follow, so autograd keeps no (filters × modes × L) tensor: the backward recomputes
  one mode's term at a time;
- initial values are hyperf's choices for profiling (random taps of unit energy rather than
  the code's tiny ones), so every path carries weight in the correctness checks;
- the projections' channel interleaving and column split that the checkpoints need are
  permutations of in_proj's rows and are left out; no RMSNorm or MLP (the block is the mixer;
  ``depth`` adds hyperf's own pre-norm blocks).

Each operator has a float64 oracle, ``hyena:se-reference`` etc.: the same module with
``conv="reference"``, whose convolution is hyperf's direct ``long_conv(..., backend=
"reference")``. Profiler regions (``hyperf.ops.regions``): "projections", "short conv" (the
featurizer), "filter generation" (group expansion, MR's window, LI's modes), the gates as
"pointwise/gating", SE's direct convolution as "long conv" (the category of a convolution
without separate stages), and the FFT backend's own stages for MR and LI.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from hyperf import registry
from hyperf.ops.costs import add_terms, element_size, linear_flops
from hyperf.ops.hyena import causal_depthwise_conv
from hyperf.ops.longconv import compute_dtype, input_bytes, long_conv, unfused_conv_bytes
from hyperf.ops.longconv.fft import fft_conv_terms
from hyperf.ops.mixer import mixer_length
from hyperf.ops.regions import region
from hyperf.registry import Entry, Memory, Terms

if TYPE_CHECKING:
    from hyperf.params import WorkloadParams
    from hyperf.workload import Workload

KINDS = ("se", "mr", "li")
CONVS = ("fast", "reference")
DEFAULT_TAPS = {"se": 7, "mr": 128}  # Evo 2's hcs_filter_length and hcm_filter_length
FEATURIZER_TAPS = 3  # Evo 2's short_filter_length
DEFAULT_MODES = 16  # Evo 2's state_size
CHANNELS_PER_FILTER = 16  # Evo 2's SE/MR filter groups: D/16 filters
MR_DECAY_RANGE = (-1.0, 2.0)  # log10 of the window's decay rates, first to last filter
LI_RATE_RANGE = (1e-3, 1e-1)  # initial per-step decay rates −log λ of the modes


def default_groups(kind: str, d_model: int) -> int:
    """Filters per operator: one per 16 channels for SE and MR where 16 divides D (else one
    per channel), one per channel for LI."""
    if kind != "li" and d_model % CHANNELS_PER_FILTER == 0:
        return d_model // CHANNELS_PER_FILTER
    return d_model


@functools.cache
def _causal_conv1d_fn():
    """The ``causal_conv1d`` package's function, or None where it does not import."""
    try:
        from causal_conv1d import causal_conv1d_fn
    except Exception:  # not installed, or built for another torch/CUDA
        return None
    return causal_conv1d_fn


def _modal_term(
    log_rate: torch.Tensor,
    residue: torch.Tensor,
    t: torch.Tensor,
    theta: torch.Tensor | None = None,
    residue_imag: torch.Tensor | None = None,
) -> torch.Tensor:
    """One mode of every filter, (G, 1) parameters over t (L,) → (G, L): R·exp(−e^a·t), or
    with a phase θ, Re[(R + iR')·exp((−e^a + iθ)·t)] = e^{−e^a·t}·(R·cos θt − R'·sin θt)."""
    decay = torch.exp(-torch.exp(log_rate) * t)
    if theta is None:
        return residue * decay
    phase = theta * t
    return decay * (residue * torch.cos(phase) - residue_imag * torch.sin(phase))


class StripedHyenaOperator(nn.Module):
    """Hyena-SE, -MR or -LI (``kind``), (B, L, D) → (B, L, D), for any L ≤ l_max.

    ``filter_len``: taps of an explicit filter (SE: 7, MR: 128 when None; a filter longer
    than the input uses its first L taps). ``conv``: "fast" (SE direct, MR and LI by FFT) or
    "reference" (hyperf's direct float64 convolution, the oracle). Both build the same
    parameters in the same order, so one seed gives one operator.
    """

    def __init__(
        self,
        d_model: int,
        l_max: int,
        kind: str,
        filter_len: int | None = None,
        conv: str = "fast",
        filter_groups: int | None = None,
        modes: int = DEFAULT_MODES,
        complex_poles: bool = False,
    ):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if conv not in CONVS:
            raise ValueError(f"conv must be one of {', '.join(CONVS)}; got {conv!r}")
        if kind == "li" and filter_len is not None:
            raise ValueError("Hyena-LI's filter is implicit: filter_len does not apply")
        if filter_len is not None and filter_len < 1:
            raise ValueError(f"filter_len must be at least 1; got {filter_len}")
        groups = filter_groups or default_groups(kind, d_model)
        if d_model % groups:
            raise ValueError(f"filter_groups {groups} must divide d_model {d_model}")
        if modes < 1:
            raise ValueError(f"modes must be at least 1; got {modes}")
        self.d_model, self.l_max, self.kind, self.conv = d_model, l_max, kind, conv
        self.groups, self.modes = groups, modes
        self.taps = None if kind == "li" else filter_len or DEFAULT_TAPS[kind]
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=False)
        bound = 1 / math.sqrt(FEATURIZER_TAPS)  # nn.Conv1d's default bound at this fan-in
        self.short_filter = nn.Parameter(
            torch.empty(3 * d_model, 1, FEATURIZER_TAPS).uniform_(-bound, bound)
        )
        if self.taps is not None:
            self.h = nn.Parameter(torch.randn(groups, self.taps) / math.sqrt(self.taps))
            if kind == "mr":
                rates = torch.logspace(*MR_DECAY_RANGE, groups, dtype=torch.float64)
                s = torch.arange(self.taps, dtype=torch.float64) / max(self.taps - 1, 1)
                self.register_buffer("window", torch.exp(-rates[:, None] * s).float())
        else:
            low, high = (math.log(r) for r in LI_RATE_RANGE)
            # a = log(−log λ), uniform: the decay rates −log λ are log-uniform.
            self.log_rate = nn.Parameter(torch.empty(groups, modes).uniform_(low, high))
            self.theta = (
                nn.Parameter(torch.rand(groups, modes) * math.pi) if complex_poles else None
            )
            self.residues = nn.Parameter(torch.randn(groups, modes) / math.sqrt(modes))
            self.residues_imag = (
                nn.Parameter(torch.randn(groups, modes) / math.sqrt(modes))
                if complex_poles
                else None
            )
        self.D = nn.Parameter(torch.randn(d_model)) if kind != "se" else None
        self.out_proj = nn.Linear(d_model, d_model)

    def project(self, u: torch.Tensor) -> torch.Tensor:
        """in_proj, then the featurizer: (B, L, D) → (B, 3D, L), sequence axis last."""
        batch, seq_len, _ = u.shape
        with region("projections"):
            projected = torch.mm(self.in_proj.weight, u.reshape(-1, self.d_model).T)
            projected = projected.view(-1, batch, seq_len).transpose(0, 1)
        with region("short conv"):
            zeros = projected.new_zeros(3 * self.d_model)  # no bias, no input bias
            return causal_depthwise_conv(projected, self.short_filter, zeros, zeros)

    def group_filters(self, seq_len: int) -> torch.Tensor:
        """The filters over the first ``seq_len`` positions, one per group: (G, K) with
        K = min(taps, L) for SE and MR, (G, L) for LI."""
        if self.taps is not None:
            taps = min(self.taps, seq_len)
            h = self.h[:, :taps]
            return h * self.window[:, :taps].to(h.dtype) if self.kind == "mr" else h
        dtype = compute_dtype(self.log_rate.dtype)
        t = torch.arange(seq_len, device=self.log_rate.device, dtype=dtype)
        params = [self.log_rate, self.residues]
        if self.theta is not None:
            params += [self.theta, self.residues_imag]
        # Checkpointed per mode when a backward follows: autograd then keeps (G, 1) slices,
        # not G·L per mode; the backward recomputes each term in turn.
        recompute = torch.is_grad_enabled() and any(p.requires_grad for p in params)
        h = None
        for r in range(self.modes):
            log_rate, residue, *phase = (p[:, r : r + 1].to(dtype) for p in params)
            args = (log_rate, residue, t, *phase)
            if recompute:
                term = checkpoint(_modal_term, *args, use_reentrant=False)
            else:
                term = _modal_term(*args)
            h = term if h is None else h + term
        return h

    def filter(self, seq_len: int) -> torch.Tensor:
        """Each channel's filter: (D, K), groups repeated over their consecutive channels."""
        h = self.group_filters(seq_len)
        if self.groups < self.d_model:
            h = h.repeat_interleave(self.d_model // self.groups, dim=0)
        return h

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        seq_len = mixer_length(u, self.d_model, self.l_max)
        x1, x2, v = self.project(u).split(self.d_model, dim=1)
        with region("filter generation"):
            h = self.filter(seq_len)
        # long_conv marks its own regions (its stages, and the gates as "pointwise/gating").
        if self.conv == "reference":
            y = long_conv(v, h, self.D, "reference", pre=x2, post=x1)
        elif self.kind == "se":
            with region("pointwise/gating"):
                z = x2 * v
            with region("long conv"):
                z = direct_causal_conv(z, h)
            with region("pointwise/gating"):
                y = x1 * z
        else:
            y = long_conv(v, h, self.D, "fft", pre=x2, post=x1)
        with region("projections"):
            return self.out_proj(y.transpose(1, 2))


def direct_causal_conv(z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """y[c, t] = Σ_{s<K} h[c, s]·z[c, t−s] for z (B, C, L), h (C, K): ``causal_conv1d_fn`` on
    CUDA for 2 to 4 taps where the package imports, else a depthwise, left-padded conv1d
    (a cross-correlation, hence the flipped taps), in float32 for the half types."""
    channels, taps = h.shape
    seq_len = z.shape[-1]
    if z.is_cuda and 2 <= taps <= 4 and z.dtype != torch.float64:
        fn = _causal_conv1d_fn()
        if fn is not None:
            return fn(z.contiguous(), h.flip(-1).to(z.dtype).contiguous(), None, activation=None)
    dtype = compute_dtype(z.dtype)
    weight = h.flip(-1).unsqueeze(1).to(dtype)
    y = F.conv1d(z.to(dtype), weight, padding=taps - 1, groups=channels)[..., :seq_len]
    return y.to(z.dtype)


# --- the registry's entries and their costs ------------------------------------------------


def _taps(w: Workload, kind: str) -> int:
    """Taps an explicit filter applies at the point: its length, at most L."""
    return min(w.filter_len or DEFAULT_TAPS[kind], w.seq_len)


def _filter_elem(w: Workload) -> int:
    """Bytes of one element of LI's materialised filter (float32, or float64)."""
    return 8 if w.dtype == "float64" else 4


def striped_flops(w: Workload, kind: str) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs: projections, featurizer (3 taps), the two gates, the filter
    (MR's window: one multiply per tap; LI's modes: rate·t, R·λ^t and the sum, 3 per mode
    and position, the exp not counted; backward recomputes them and takes twice that for
    the gradients), and the convolution: SE direct, 2 FLOPs per tap and output element
    (twice that backward: input and taps); MR and LI the ``fft`` backend's terms."""
    rows, d, seq_len = w.batch * w.seq_len, w.d_model, w.seq_len
    groups = default_groups(kind, d)
    fwd: Terms = {}
    bwd: Terms = {}
    fwd["in_proj"], bwd["in_proj"] = linear_flops(rows, d, 3 * d)
    fwd["out_proj"], bwd["out_proj"] = linear_flops(rows, d, d)
    fwd["short_conv"] = 2.0 * FEATURIZER_TAPS * rows * 3 * d
    bwd["short_conv"] = 2 * fwd["short_conv"]
    fwd["gating"], bwd["gating"] = 2.0 * rows * d, 4.0 * rows * d
    if kind == "se":
        fwd["direct_conv"] = 2.0 * _taps(w, kind) * rows * d
        bwd["direct_conv"] = 2 * fwd["direct_conv"]
        return fwd, bwd
    if kind == "mr":
        fwd["filter_window"] = bwd["filter_window"] = float(groups * _taps(w, kind))
    else:
        fwd["filter_modes"] = 3.0 * groups * DEFAULT_MODES * seq_len
        bwd["filter_modes"] = 3 * fwd["filter_modes"]
    conv_fwd, conv_bwd = fft_conv_terms(w.batch, d, seq_len)
    add_terms(fwd, conv_fwd)
    add_terms(bwd, conv_bwd)
    return fwd, bwd


def striped_bytes(w: Workload, kind: str) -> Terms:
    """Least bytes of one forward: u read, the three streams written, the output projection's
    input read and output written, the weights; the featurizer's three planes in and out;
    two unfused gates (two planes in, one out each); the convolution (SE: its input and
    output and the taps; MR, LI: the ``fft`` backend's unfused passes); the filter."""
    elem, d = element_size(w), w.d_model
    plane = w.batch * w.seq_len * d
    terms: Terms = {
        "projections": elem * (plane + 3 * plane + 2 * plane) + elem * (3 * d * d + d * d),
        "short_conv": elem * 2 * 3 * plane,
        "gating": elem * 3 * 2 * plane,
    }
    if kind == "se":
        taps = _taps(w, kind)
        terms["long_conv"] = elem * 2 * plane
        terms["filter"] = elem * d * taps
        return terms
    add_terms(terms, unfused_conv_bytes(w))
    if kind == "mr":
        taps = _taps(w, kind)
        terms["filter"] = elem * (2 * default_groups(kind, d) * taps + d * taps)
    else:
        terms["filter"] = _filter_elem(w) * d * w.seq_len
    return terms


def striped_memory(w: Workload, kind: str) -> Memory:
    """What autograd keeps, as ``StripedHyenaOperator`` runs: planes of B·L·D activations:
    in_proj's input, the featurizer's input and output (3 each; the gates keep the output),
    the convolution's input (the first gate's product) and output (kept by the second gate)
    and out_proj's input; then SE's padded conv1d output and its taps, or the ``fft``
    backend's spectra, MR's window and LI's time axis. LI's modes are checkpointed: their
    terms are transient (the filter, one mode's term and their sum: ``scratch``)."""
    elem, d, seq_len = element_size(w), w.d_model, w.seq_len
    plane = w.batch * seq_len * d
    saved = elem * (10.0 * plane + 3 * d)  # and the featurizer's zero input bias
    if kind == "se":
        taps = _taps(w, kind)
        saved += elem * (w.batch * d * (taps - 1) + d * taps)
        return Memory(saved)
    conv = registry.get("longconv:fft").memory(w)
    saved += conv.saved - input_bytes(w)
    if kind == "mr":
        return Memory(saved + elem * default_groups(kind, d) * _taps(w, kind), conv.scratch)
    return Memory(
        saved + _filter_elem(w) * seq_len, conv.scratch + _filter_elem(w) * 3 * d * seq_len
    )


def refuse_explicit(w: WorkloadParams) -> str | None:
    """An explicit filter has at most L taps."""
    if w.filter_len is not None and w.filter_len > w.seq_len:
        return (
            f"filter_len {w.filter_len} exceeds L={w.seq_len}: an explicit filter has at most "
            "L taps"
        )
    return None


def refuse_implicit(w: WorkloadParams) -> str | None:
    """LI's filter is as long as the input: a filter length does not apply."""
    if w.filter_len is not None:
        return "hyena:li's filter is implicit: filter_len does not apply"
    return None


SUMMARIES = {
    "se": "StripedHyena 2's Hyena-SE: 7-tap explicit filters, direct causal convolution",
    "mr": "StripedHyena 2's Hyena-MR: 128 decay-windowed explicit taps, FFT convolution",
    "li": "StripedHyena 2's Hyena-LI: 16-mode implicit filters over L, FFT convolution",
}
COLOURS = {"se": "#4db6ac", "mr": "#00897b", "li": "#004d40"}  # teal: light, mid, dark


def _builder(kind: str, conv: str):
    """``fn(d_model, l_max, filter_len=None)`` for SE and MR, ``fn(d_model, l_max)`` for LI."""
    if kind == "li":

        def build_li(d_model: int, l_max: int) -> StripedHyenaOperator:
            return StripedHyenaOperator(d_model, l_max, kind, conv=conv)

        return build_li

    def build_explicit(
        d_model: int, l_max: int, filter_len: int | None = None
    ) -> StripedHyenaOperator:
        return StripedHyenaOperator(d_model, l_max, kind, filter_len, conv=conv)

    return build_explicit


def _register(kind: str) -> None:
    """``hyena:<kind>`` and its oracle ``hyena:<kind>-reference``. The reference is an oracle
    itself (``oracle=None``, as ``longconv:reference``): it is tested against NumPy float64
    code, and its own points are not independently checked (never timed for speed)."""
    name = f"hyena:{kind}"
    params = () if kind == "li" else ("filter_len",)
    refuse = refuse_implicit if kind == "li" else refuse_explicit
    registry.add(
        Entry(
            name,
            _builder(kind, "fast"),
            registry.always_available,
            SUMMARIES[kind],
            oracle=f"{name}-reference",
            flop_terms=functools.partial(striped_flops, kind=kind),
            byte_terms=functools.partial(striped_bytes, kind=kind),
            memory=functools.partial(striped_memory, kind=kind),
            colour=COLOURS[kind],
            params=params,
            refuse=refuse,
        )
    )
    registry.add(
        Entry(
            f"{name}-reference",
            _builder(kind, "reference"),
            registry.always_available,
            f"{SUMMARIES[kind].split(':')[0]} over float64 direct convolution (the oracle)",
            oracle=None,
            params=params,
            refuse=refuse,
        )
    )


for _kind in KINDS:
    _register(_kind)
