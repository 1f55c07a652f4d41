"""Mamba-2 (Dao & Gu, ICML 2024, "Transformers are SSMs", arXiv 2405.21060): a selective
state-space mixer, (B, L, D) → (B, L, D), in plain PyTorch, laid out like ``Mamba2`` of the
authors' repository (github.com/state-spaces/mamba, ``mamba_ssm/modules/mamba2_simple.py``;
the chunked scan follows the paper's SSD algorithm, its Listing 1 / ``ssd_minimal.py``).

The layer: ``in_proj`` D → [z, x, B, C, dt] (x and z of width 2·D split into H heads of P = 64
channels; B and C of N = ``d_state`` per group, one group); a causal depthwise convolution
(width 4) and SiLU over [x, B, C]; dt = softplus(dt + dt_bias), A = −exp(A_log) per head; the
SSM scan; y += D·x; y ← RMSNorm(y ⊙ SiLU(z)); ``out_proj`` 2·D → D.

The SSM per head, with a_t = dt_t·A (a log-decay, ≤ 0), state h_t ∈ R^{P×N}:

    h_t = exp(a_t)·h_{t−1} + dt_t·x_t B_tᵀ          y_t = h_t C_t

``scan="sequential"`` runs exactly that, a Python loop over t (the oracle). ``scan="chunked"``
is the SSD algorithm: cut L into chunks of Q positions (the last one padded with dt = 0,
which leaves the state alone; Q = L when L < Q) and, with s(i, j) = Σ_{j<k≤i} a_k,

1. within a chunk, the masked quadratic (attention-like) form
   y_i = Σ_{j≤i} (C_i·B_j)·exp(s(i, j))·dt_j x_j;
2. each chunk's end state from a zero start: S_c = Σ_j exp(s(end, j))·dt_j x_j B_jᵀ;
3. state passing between chunks: the state entering chunk c is
   Σ_{c'<c} exp(Σ of the total log-decays of chunks c'+1 … c−1)·S_{c'}, computed as the same
   masked (segment-sum) form over chunks, in blocks of ``STATE_BLOCK`` chunks with the state
   carried from one block to the next (linear in L, not quadratic in the chunk count);
4. state to output: y_i += exp(Σ_{start≤k≤i} a_k)·(h_entering C_i).

Segment sums are summed term by term (a masked cumsum), not as differences of one running
sum, which would lose the small sums near the diagonal to cancellation in float32.

``ssm:mamba2-kernel`` runs the same module with the scan by mamba-ssm's fused Triton kernel
(``mamba_chunk_scan_combined``), CUDA only.

What differs from mamba_ssm's module: no fused kernels here (no ``causal_conv1d``, no fused
gated-norm or split-conv-scan path; the short convolution is hyperf's own
``causal_depthwise_conv`` from ``hyperf.ops.hyena``); no initial states, ``seq_idx``,
``dt_limit`` or inference cache; the gated RMSNorm is plain PyTorch (gate before norm, as
``norm_before_gate=False``). Dtypes: the whole module is cast to the point's dtype; dt, A and
every decay (segment sums, exponentials) are computed in at least float32, the scan's
matmuls in the input's dtype, the RMS statistic in at least float32.

Profiler regions (``hyperf.ops.regions``, whose names are fixed): "projections", "short conv",
the scan as "long conv" (the sequence-mixing stage, as a long convolution is Hyena's), the
gate as "pointwise/gating" and the RMSNorm as "norm".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from hyperf import registry
from hyperf.ops.costs import element_size, linear_flops
from hyperf.ops.hyena import causal_depthwise_conv
from hyperf.ops.mixer import importable, mixer_length
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms

if TYPE_CHECKING:
    from hyperf.params import WorkloadParams
    from hyperf.workload import Workload

# The module's settings that are not point parameters (Mamba-2's defaults).
EXPAND = 2
HEADDIM = 64
NGROUPS = 1
D_CONV = 4
CHUNK_SIZE = 256
STATE_BLOCK = 64  # chunks whose states are passed in one masked matmul (step 3)
SCANS = ("chunked", "sequential", "kernel")


def width_refusal(d_model: int, expand: int = EXPAND, headdim: int = HEADDIM) -> str | None:
    """Why a width cannot be split into heads, or None."""
    if (expand * d_model) % headdim:
        return (
            f"Mamba-2 splits its inner width {expand}·D = {expand * d_model} into heads of "
            f"{headdim} channels: d_model must be a multiple of "
            f"{headdim // math.gcd(expand, headdim)}; got {d_model}"
        )
    return None


# --- the scans ------------------------------------------------------------------------------


def segsum(a: torch.Tensor) -> torch.Tensor:
    """(..., T) → (..., T, T): S[i, j] = Σ_{j<k≤i} a[k] where i ≥ j (0 on the diagonal), −inf
    above it, so exp(S) is the causal decay matrix. Each sum is accumulated term by term."""
    size = a.shape[-1]
    ones = torch.ones(size, size, dtype=torch.bool, device=a.device)
    below, on_or_below = ones.tril(-1), ones.tril(0)
    terms = a.unsqueeze(-1).expand(*a.shape, size).masked_fill(~below, 0.0)  # [k, j]: a_k, k > j
    return terms.cumsum(-2).masked_fill(~on_or_below, -math.inf)


def pass_states(
    states: torch.Tensor, chunk_decay: torch.Tensor, block: int = STATE_BLOCK
) -> torch.Tensor:
    """The state entering each chunk, (b, c, h, p, n), from each chunk's own end state
    ``states`` (b, c, h, p, n; from a zero start) and the log of each chunk's total decay
    ``chunk_decay`` (b, h, c): within a block of chunks the masked form over
    [carry, S_k, …], exp(segsum) of [0, decays] times the stacked states; the block's last row
    is the state carried into the next block."""
    chunks = states.shape[1]
    carry = torch.zeros_like(states[:, 0])
    entering = []
    for start in range(0, chunks, block):
        own = states[:, start : start + block]
        size = own.shape[1]
        decay = F.pad(chunk_decay[..., start : start + block], (1, 0))
        weights = torch.exp(segsum(decay)).to(states.dtype)  # (b, h, m+1, m+1)
        stacked = torch.cat([carry.unsqueeze(1), own], dim=1)  # (b, m+1, h, p, n)
        passed = torch.einsum("bhzk,bkhpn->bzhpn", weights, stacked)
        entering.append(passed[:, :size])
        carry = passed[:, size]
    return torch.cat(entering, dim=1)


def ssd_chunked(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int = CHUNK_SIZE,
    state_block: int = STATE_BLOCK,
) -> torch.Tensor:
    """The SSD algorithm (module docstring, steps 1–4): x (b, L, h, p), dt (b, L, h) > 0,
    A (h,) < 0, B and C (b, L, g, n) with g dividing h → y (b, L, h, p) in x's dtype, without
    the D skip. dt and A may be of a wider dtype than x: the decays are computed in theirs."""
    seq_len, heads = x.shape[1:3]
    groups = B.shape[2]
    rep = heads // groups
    if seq_len == 0:
        return torch.zeros_like(x)
    q = min(chunk_size, seq_len)
    pad = -seq_len % q
    if pad:  # dt = 0 past the end: no decay and no input, so the state passes unchanged
        x, dt, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, dt, B, C))
    chunks = (seq_len + pad) // q
    dtype = x.dtype

    def per_position(decay: torch.Tensor) -> torch.Tensor:
        """(b, h, c, q) → (b, c, q, g, r, 1), to scale x-shaped (b, c, q, g, r, p) tensors."""
        return decay.permute(0, 2, 3, 1).unflatten(3, (groups, rep)).unsqueeze(-1).to(dtype)

    a = (dt * A).unflatten(1, (chunks, q)).permute(0, 3, 1, 2)  # (b, h, c, q) log-decays
    a_cum = a.cumsum(-1)  # Σ a_k from the chunk's start through i
    # Σ_{k>j} a_k to the chunk's end, summed term by term from the end.
    to_end = F.pad(a[..., 1:].flip(-1).cumsum(-1).flip(-1), (0, 1))
    xdt = (x * dt.unsqueeze(-1).to(dtype)).unflatten(1, (chunks, q)).unflatten(3, (groups, rep))
    Bc, Cc = B.unflatten(1, (chunks, q)), C.unflatten(1, (chunks, q))  # (b, c, q, g, n)

    # 1. Within each chunk: (C Bᵀ ⊙ exp(segsum)) x, the masked quadratic form.
    decay = torch.exp(segsum(a)).to(dtype)  # (b, h, c, i, j)
    decay = decay.unflatten(1, (groups, rep)).permute(0, 3, 1, 2, 4, 5)  # (b, c, g, r, i, j)
    cb = torch.einsum("bcign,bcjgn->bcgij", Cc, Bc)
    y = torch.einsum("bcgrij,bcjgrp->bcigrp", cb.unsqueeze(3) * decay, xdt)
    # 2. Each chunk's end state from a zero start.
    states = torch.einsum("bcjgn,bcjgrp->bcgrpn", Bc, xdt * per_position(torch.exp(to_end)))
    # 3. The state entering each chunk.
    entering = pass_states(states.flatten(2, 3), a_cum[..., -1], state_block)
    # 4. Its contribution to each output of the chunk.
    y_off = torch.einsum("bcign,bcgrpn->bcigrp", Cc, entering.unflatten(2, (groups, rep)))
    y = y + y_off * per_position(torch.exp(a_cum))
    return y.flatten(1, 2)[:, :seq_len].flatten(2, 3)


def ssd_sequential(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """The recurrence itself, one step per position (shapes as ``ssd_chunked``), in at least
    float32: h_t = exp(dt_t·A)·h_{t−1} + dt_t·x_t B_tᵀ, y_t = h_t C_t."""
    batch, seq_len, heads, headdim = x.shape
    rep = heads // B.shape[2]
    dtype, acc = x.dtype, torch.promote_types(x.dtype, torch.float32)
    x, dt, A = x.to(acc), dt.to(acc), A.to(acc)
    B = B.to(acc).repeat_interleave(rep, dim=2)  # (b, L, h, n): head k reads group k // rep
    C = C.to(acc).repeat_interleave(rep, dim=2)
    state = x.new_zeros(batch, heads, headdim, B.shape[-1])
    outputs = []
    for t in range(seq_len):
        decay = torch.exp(dt[:, t] * A)[..., None, None]  # (b, h, 1, 1)
        inject = (dt[:, t, :, None] * x[:, t]).unsqueeze(-1) * B[:, t].unsqueeze(-2)
        state = state * decay + inject
        outputs.append(torch.einsum("bhpn,bhn->bhp", state, C[:, t]))
    return torch.stack(outputs, dim=1).to(dtype)


def _kernel_scan(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
    D: torch.Tensor,
) -> torch.Tensor:
    """mamba-ssm's fused Triton SSD (forward and backward), the D skip included."""
    if x.device.type != "cuda":
        raise RuntimeError(_CUDA_ONLY)
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined  # optional, CUDA

    return mamba_chunk_scan_combined(x, dt, A.float(), B, C, chunk_size, D=D.float())


# --- the module -------------------------------------------------------------------------------


class GatedRMSNorm(nn.Module):
    """RMSNorm(y ⊙ SiLU(z)) · weight over groups of ``group_size`` channels (mamba-ssm's
    ``RMSNormGated`` with ``norm_before_gate=False``), the statistic in at least float32."""

    def __init__(self, width: int, group_size: int, eps: float = 1e-5):
        super().__init__()
        self.group_size, self.eps = group_size, eps
        self.weight = nn.Parameter(torch.ones(width))

    def gate(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return y * F.silu(z)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """The norm of an already gated ``y`` (``gate`` first)."""
        acc = torch.promote_types(y.dtype, torch.float32)
        groups = y.to(acc).unflatten(-1, (-1, self.group_size))
        normed = groups * torch.rsqrt(groups.square().mean(-1, keepdim=True) + self.eps)
        return normed.flatten(-2).to(y.dtype) * self.weight


class Mamba2(nn.Module):
    """Mamba-2 mixer, (B, L, D) → (B, L, D), for any L ≤ l_max; the scan ``chunked`` (SSD),
    ``sequential`` (the recurrence, the oracle) or ``kernel`` (mamba-ssm's Triton, CUDA)."""

    def __init__(
        self,
        d_model: int,
        l_max: int,
        d_state: int = 128,
        d_conv: int = D_CONV,
        expand: int = EXPAND,
        headdim: int = HEADDIM,
        ngroups: int = NGROUPS,
        chunk_size: int = CHUNK_SIZE,
        scan: str = "chunked",
        A_init_range: tuple[float, float] = (1.0, 16.0),
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        norm_eps: float = 1e-5,
    ):
        super().__init__()
        if scan not in SCANS:
            raise ValueError(f"scan must be one of {', '.join(SCANS)}; got {scan!r}")
        reason = width_refusal(d_model, expand, headdim)
        if reason:
            raise ValueError(reason)
        heads = expand * d_model // headdim
        if d_state < 1 or d_conv < 1 or chunk_size < 1 or ngroups < 1 or heads % ngroups:
            raise ValueError(
                f"need d_state, d_conv, chunk_size ≥ 1 and ngroups dividing the {heads} heads; "
                f"got d_state={d_state}, d_conv={d_conv}, chunk_size={chunk_size}, "
                f"ngroups={ngroups}"
            )
        self.d_model, self.l_max, self.d_state, self.scan = d_model, l_max, d_state, scan
        self.d_inner, self.headdim, self.nheads = expand * d_model, headdim, heads
        self.ngroups, self.chunk_size = ngroups, chunk_size
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        # Parameters in mamba-ssm's names and creation order (one seed, one set of weights,
        # whichever scan): in_proj's [z, x, B, C, dt] rows, the depthwise conv, dt_bias, A_log,
        # D, the norm's weight, out_proj.
        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + heads, bias=False)
        self.conv1d = nn.Conv1d(
            self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=d_conv - 1
        )
        # dt log-uniform in [dt_min, dt_max]; dt_bias is its inverse softplus.
        log_min, log_max = math.log(dt_min), math.log(dt_max)
        dt = torch.exp(torch.rand(heads) * (log_max - log_min) + log_min).clamp(min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.empty(heads).uniform_(*A_init_range)))
        self.D = nn.Parameter(torch.ones(heads))
        self.norm = GatedRMSNorm(self.d_inner, self.d_inner // ngroups, norm_eps)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def extra_repr(self) -> str:
        return (
            f"d_state={self.d_state}, heads={self.nheads}×{self.headdim}, "
            f"ngroups={self.ngroups}, chunk_size={self.chunk_size}, scan={self.scan}"
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        mixer_length(u, self.d_model, self.l_max)  # refuses a wrong shape or L
        groups, d_state = self.ngroups, self.d_state
        with region("projections"):
            zxbcdt = self.in_proj(u)
        z, xbc, dt = zxbcdt.split([self.d_inner, self.conv_dim, self.nheads], dim=-1)
        with region("short conv"):
            weight, bias = self.conv1d.weight, self.conv1d.bias
            no_bias = bias.new_zeros(self.conv_dim)  # in_proj has none
            xbc = causal_depthwise_conv(xbc.transpose(1, 2), weight, bias, no_bias)
            xbc = F.silu(xbc).transpose(1, 2)  # (B, L, conv_dim)
        with region("long conv"):
            x, B, C = xbc.split([self.d_inner, groups * d_state, groups * d_state], dim=-1)
            x = x.unflatten(-1, (self.nheads, self.headdim))
            B, C = B.unflatten(-1, (groups, d_state)), C.unflatten(-1, (groups, d_state))
            acc = torch.promote_types(u.dtype, torch.float32)
            dt = F.softplus(dt.to(acc) + self.dt_bias.to(acc))
            A = -torch.exp(self.A_log.to(acc))
            if self.scan == "kernel":
                y = _kernel_scan(x, dt, A, B, C, self.chunk_size, self.D)
            else:
                if self.scan == "chunked":
                    y = ssd_chunked(x, dt, A, B, C, self.chunk_size)
                else:
                    y = ssd_sequential(x, dt, A, B, C)
                y = y + x * self.D.unsqueeze(-1)
            y = y.flatten(2)  # (B, L, d_inner)
        with region("pointwise/gating"):
            y = self.norm.gate(y, z)
        with region("norm"):
            y = self.norm(y)
        with region("projections"):
            return self.out_proj(y)


# --- availability ---------------------------------------------------------------------------

_NO_PACKAGE = "needs the mamba-ssm package (pip install mamba-ssm; CUDA only)"
_CUDA_ONLY = "CUDA only: mamba-ssm's Triton kernels"


def kernel_available(device: torch.device, dtype: torch.dtype) -> registry.Availability:
    if not importable("mamba_ssm"):
        return False, _NO_PACKAGE
    if device.type != "cuda":
        return False, _CUDA_ONLY
    if dtype == torch.float64:
        return False, "mamba-ssm's Triton kernels take float32, float16 or bfloat16, not float64"
    return True, ""


# --- costs -----------------------------------------------------------------------------------


class _Dims:
    """The module's sizes at a point (constructor defaults; ``d_state`` from the point)."""

    def __init__(self, w: Workload):
        self.b, self.seq, self.d, self.n = w.batch, w.seq_len, w.d_model, w.d_state
        self.inner = EXPAND * w.d_model
        self.h, self.p, self.g = self.inner // HEADDIM, HEADDIM, NGROUPS
        self.conv = self.inner + 2 * self.g * self.n
        self.in_proj = self.inner + self.conv + self.h
        self.rows = self.b * self.seq
        self.q = max(1, min(CHUNK_SIZE, self.seq))  # the chunk ``ssd_chunked`` uses
        self.chunks = -(-self.seq // self.q)
        self.padded = self.chunks * self.q  # T: L rounded up to whole chunks


def _passing_flops(dims: _Dims) -> float:
    """``pass_states``: per block of m chunks one (m+1)×(m+1) by (m+1)×(P·N) matmul per head."""
    full, last = divmod(dims.chunks, STATE_BLOCK)
    squares = full * (STATE_BLOCK + 1) ** 2 + ((last + 1) ** 2 if last else 0)
    return 2.0 * dims.b * dims.h * squares * dims.p * dims.n


def _ssm_flops(scan: str):
    """(forward, backward) FLOPs of one Mamba2 with ``scan``. Keys: in_proj and out_proj;
    short_conv (4 taps and the bias per channel); scan: the matmuls of the SSD algorithm over
    the padded length T (whole Q×Q blocks, masked half included, as the code computes them):
    C·Bᵀ per group (2·T·Q·N), its masked product with x per head (2·T·Q·P), the chunk states
    (2·T·P·N per head), state passing (``pass_states``'s masked matmuls; for the kernel one
    multiply-add per state element and chunk, its sequential pass) and state to output
    (2·T·N·P per head); for the sequential recurrence 5·P·N per step and head (decay, outer
    product, add, and the 2·P·N readout); scan_elementwise: the decay mask's product and
    segment sums, dt·x, the decay scalings, dt's bias and dt·A, and the D skip; gating: the
    gate's product and the RMSNorm (square, mean, scale, weight). Backward twice forward."""

    def flop_terms(w: Workload) -> tuple[Terms, Terms]:
        s = _Dims(w)
        fwd: Terms = {}
        bwd: Terms = {}
        fwd["in_proj"], bwd["in_proj"] = linear_flops(s.rows, s.d, s.in_proj)
        fwd["short_conv"] = 2.0 * D_CONV * s.rows * s.conv + s.rows * s.conv
        per_head = s.b * s.h * s.p  # x-shaped elements per position
        if scan == "sequential":
            fwd["scan"] = 5.0 * s.rows * s.h * s.p * s.n
            fwd["scan_elementwise"] = 3.0 * s.rows * s.h * s.p + 2.0 * s.rows * s.h
        else:
            positions = s.b * s.padded
            passing = 2.0 * s.b * s.chunks * s.h * s.p * s.n
            fwd["scan"] = (
                2.0 * positions * s.q * s.n * s.g
                + 2.0 * positions * s.q * s.p * s.h
                + 2.0 * positions * s.p * s.n * s.h
                + (passing if scan == "kernel" else _passing_flops(s))
                + 2.0 * positions * s.n * s.p * s.h
            )
            fwd["scan_elementwise"] = (
                s.b * s.h * s.padded * (2.0 * s.q + 2)  # the mask's product, segment sums
                + 4.0 * per_head * s.padded  # dt·x, end-decay, start-decay, the sum
                + 2.0 * s.rows * s.h  # dt + dt_bias, dt·A
                + 2.0 * per_head * s.seq  # + D·x
            )
        fwd["gating"] = 5.0 * s.rows * s.inner
        fwd["out_proj"], bwd["out_proj"] = linear_flops(s.rows, s.inner, s.d)
        for key in ("short_conv", "scan", "scan_elementwise", "gating"):
            bwd[key] = 2 * fwd[key]
        return fwd, bwd

    return flop_terms


def _ssm_bytes(scan: str):
    """Least bytes of one forward: each stage reads its inputs and writes its output once
    (the projections their weights too); the scan reads x, B, C, dt and writes y, and the
    PyTorch chunked scan also writes and reads its Q×Q decays and masked scores per head and
    C·Bᵀ per group (its segment sums' own passes left out, like attention's mask), the
    sequential one reads and writes the P×N state per step and head."""

    def byte_terms(w: Workload) -> Terms:
        s, elem = _Dims(w), element_size(w)
        terms: Terms = {}
        terms["projections"] = elem * (
            s.rows * (s.d + s.in_proj) + s.d * s.in_proj + s.rows * (s.inner + s.d) + s.inner * s.d
        )
        terms["short_conv"] = elem * 2 * s.rows * s.conv
        scan_bytes = elem * s.rows * (s.inner + 2 * s.g * s.n + s.h + s.inner)
        if scan == "chunked":
            blocks = s.b * s.padded * s.q
            scan_bytes += elem * (4 * s.h * blocks + 2 * s.g * blocks)
        elif scan == "sequential":
            scan_bytes += elem * 2 * s.rows * s.h * s.p * s.n
        terms["scan"] = scan_bytes
        terms["gating"] = elem * 3 * s.rows * s.inner
        terms["norm"] = elem * 2 * s.rows * s.inner
        return terms

    return byte_terms


def _ssm_memory(scan: str):
    """What autograd keeps, read off the code (bytes; planes of B·L elements unless said):
    the input; in_proj's output (its z and x/B/C slices are saved); the short conv's output
    and SiLU's; dt's two H-wide planes (in at least float32); after the scan the five d_inner
    planes of the skip's sum, SiLU(z), the gated y, the normed y and out_proj's input, and the
    RMS factors. The chunked scan adds, over the padded length T: dt·x and its copies for the
    two matmuls that read it (one scaled by the end decays), the state-to-output term, the
    start and end decays, and where L is padded the padded x, B, C and dt; per Q×Q block and
    head the decays (in at least float32, and again in a narrower input dtype) and the masked
    scores, per group C·Bᵀ; per chunk and head two P×N states (entering ones, and the stacked
    operands of ``pass_states``, one more per block). The kernel's autograd function keeps
    views of x, B, C and its output (planes counted already), dt and its cumulative decays
    (an estimate from its source, not measured here). The sequential scan keeps per step and
    head its new P×N state, dt·x and the decay, and B and C repeated per head."""

    def memory(w: Workload) -> Memory:
        s, elem = _Dims(w), element_size(w)
        acc = max(elem, 4)
        rows = s.d + s.in_proj + 2 * s.conv + 5 * s.inner + s.g
        saved = elem * s.rows * rows + acc * 2 * s.rows * s.h
        scratch = 0.0
        if scan == "chunked":
            padded = s.padded != s.seq
            positions, blocks = s.b * s.padded, s.b * s.padded * s.q
            planes = 4 * s.inner + ((s.inner + 2 * s.g * s.n) if padded else 0)
            saved += elem * positions * planes + acc * positions * (2 + padded) * s.h
            decays = acc + (elem if elem != acc else 0)
            saved += decays * s.h * blocks + elem * (s.h + s.g) * blocks
            stacked = s.chunks + -(-s.chunks // STATE_BLOCK)
            saved += elem * s.b * s.h * s.p * s.n * (s.chunks + stacked)
            scratch = 3 * acc * s.h * blocks  # a segment sum's masked terms, cumsum, mask
        elif scan == "kernel":  # dt again and its per-chunk cumulative decays (float32)
            saved += 4 * 2 * s.rows * s.h
        else:
            per_step = s.p * s.n + s.p + 1
            saved += acc * s.rows * s.h * (per_step + 2 * s.n)
        return Memory(saved, scratch)

    return memory


# --- the entries ---------------------------------------------------------------------------


def refuse(w: WorkloadParams) -> str | None:
    """A width whose inner 2·D is not a whole number of 64-channel heads."""
    return width_refusal(w.d_model)


def _register(impl: str, scan: str, available: registry.AvailableFn, summary: str, **facts):
    def build(d_model: int, l_max: int, d_state: int = 128) -> Mamba2:
        return Mamba2(d_model, l_max, d_state=d_state, scan=scan)

    oracle = None if scan == "sequential" else "ssm:reference"
    registry.add(
        registry.Entry(
            f"ssm:{impl}",
            build,
            available,
            summary,
            oracle,
            flop_terms=_ssm_flops(scan),
            byte_terms=_ssm_bytes(scan),
            memory=_ssm_memory(scan),
            refuse=refuse,
            **facts,
        )
    )


_register(
    "reference",
    "sequential",
    registry.always_available,
    "Mamba-2 mixer, its SSM by the plain recurrence (a loop over t): the family's oracle",
    colour="#3f007d",  # deep purple: the state-space family is drawn in purples
)
_register(
    "mamba2",
    "chunked",
    registry.always_available,
    "Mamba-2 mixer, SSD chunked scan in plain PyTorch (masked Q×Q blocks, state passing)",
    colour="#6a51a3",  # slate purple
)
_register(
    "mamba2-kernel",
    "kernel",
    kernel_available,
    "Mamba-2 mixer, SSD scan by mamba-ssm's fused Triton kernel (CUDA only)",
    colour="#9e9ac8",  # light purple
)
