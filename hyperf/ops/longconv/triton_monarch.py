"""Fused Monarch-FFT long convolution in Triton: every DFT is a ``tl.dot`` on the matrix units.

One program computes one (batch, channel) row end to end::

    y = post ⊙ ( (k ∗ v)[:L] + D·v ),   v = pre ⊙ u          (pre, post optional)

with the n-point DFT (n ≥ 2L, a power of two) split as n = N1·N2 (Cooley–Tukey, the same
layout as ``blocked``: input index t = N2·t1 + t2, frequency f = f1 + N1·f2). Viewing the
zero-padded row as the N1×N2 matrix A[t1, t2]::

    B = F_N1 · A                 column DFTs; A's rows t1 ≥ N1/2 are padding, never loaded
    B ⊙= T,  T[f1, t2] = W_n^{f1·t2}                                   twiddles
    C = B · F_N2                 row DFTs: C[f1, f2] = Û[f1 + N1·f2]
    P = C ⊙ K̂/n                 the filter's spectrum, precomputed in this layout
    E = (P · F̄_N2) ⊙ T̄          inverse row DFTs and twiddles
    Y = Re(F̄_N1 · E)[:N1/2]     inverse column DFTs; only the rows that hold t < L

The loop runs over blocks of BLOCK_F1 spectrum rows f1: each block goes forward, through the
filter and back, and adds its share of the inverse column DFT to Y, which stays in registers
(N1/2 × N2 = n/2 fp32 values) until the single store. Per row, u (and the gates) are read and
y is written, nothing else; the DFT matrices and twiddles are small tables shared by every
program, and the filter spectrum is shared by the programs of one channel, which run together.

Complex values are (real, imag) pairs of fp32 tiles. The dots take fp32 operands: on GPU as
tf32x3 for fp32 inputs (fp32-level accuracy from three tf32 products) and tf32 for fp16/bf16
inputs; loads are upcast, the accumulation is fp32 throughout.

Backward: the adjoint of a convolution is a correlation, i.e. the same kernel with the
conjugate filter spectrum (with n ≥ 2L the wrap-around terms of the circular correlation land
on zero filter taps), so du runs in Triton too, with the gates' roles swapped. dk, dD and the
gates' gradients are reductions, done with torch.

Sizes: n from 512 to 16384 (L ≤ 8192), with the factorisations below; on sm_80 float32 stops
at n = 4096. ``triton_aot`` compiles every shipped configuration for sm_80 and sm_90 and checks
for spills and shared-memory overflow.

On CPU the kernel runs in the Triton interpreter (numpy): right answers, meaningless times.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from hyperf.ops.costs import element_size, fft_flops
from hyperf.ops.longconv import input_bytes
from hyperf.ops.longconv.blocked import _dft, _twiddle
from hyperf.ops.regions import region
from hyperf.registry import Memory, Terms, TimeModel, register

if TYPE_CHECKING:
    from hyperf.workload import Workload

try:
    import triton
    import triton.language as tl
except ImportError:  # the `triton` extra is optional
    triton = None

MIN_FFT = 512  # N1/2 ≥ 16 and N2 ≥ 16: the smallest tiles tl.dot takes
MAX_FFT = 16384  # L ≤ 8192; beyond this Y no longer fits in one program's registers
MAX_SEQ_LEN = MAX_FFT // 2
# n → (N1, N2): N2 ≤ 64 keeps F_N2 and the row tiles small enough for registers; N1 grows
# instead, and F_N1 is streamed in tiles. Chosen by compiling every candidate (triton_aot).
FACTORS = {
    512: (32, 16),
    1024: (32, 32),
    2048: (32, 64),
    4096: (64, 64),
    8192: (128, 64),
    16384: (256, 64),
}
# sm_80 has no wgmma: mma.sync keeps the row DFT's F_N2 in every warp's registers, and with
# N2 = 64 the large sizes spill. N2 = 32 compiles clean with tf32 dots (fp16/bf16 inputs),
# not with tf32x3 (fp32 inputs), which stop at n = 4096 there.
SM80_FACTORS = {8192: (256, 32), 16384: (512, 32)}
SM80_MAX_FFT_FP32 = 4096
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Shape:
    """The transform one launch uses: FFT size n = n1·n2."""

    n: int
    n1: int
    n2: int


@dataclass(frozen=True)
class KernelConfig:
    """One shipped launch configuration: tile sizes and the GPU schedule."""

    block_f1: int
    block_t1: int
    num_warps: int
    num_stages: int = 1

    def as_dict(self) -> dict:
        return {
            "BLOCK_F1": self.block_f1,
            "BLOCK_T1": self.block_t1,
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
        }


# Autotuning candidates per FFT size; the first is the one the interpreter runs. Each one
# compiles without spills for sm_90 and, up to max_fft(80, dtype), sm_80 (test_triton_aot).
_W8 = KernelConfig(16, 16, 8)
_W8_PIPELINED = KernelConfig(16, 16, 8, num_stages=2)
_W8_TALL = KernelConfig(16, 32, 8)
CONFIGS: dict[int, list[KernelConfig]] = {
    512: [KernelConfig(16, 16, 4), _W8],
    1024: [KernelConfig(16, 16, 4), _W8_PIPELINED],
    2048: [_W8, _W8_PIPELINED],
    4096: [_W8, _W8_TALL, _W8_PIPELINED],
    8192: [_W8, _W8_TALL, _W8_PIPELINED],
    16384: [_W8, _W8_TALL],
}


def fft_size(seq_len: int) -> int:
    """The kernel's n: a power of two ≥ 2L (no wrap-around, also for the correlation)."""
    return max(MIN_FFT, 1 << math.ceil(math.log2(2 * seq_len)))


def max_fft(arch: int | None, dtype: torch.dtype) -> int:
    """Largest FFT size shipped for a CUDA architecture (80, 86, 90, …; None: interpreter)."""
    if arch is not None and arch < 90 and dtype == torch.float32:
        return SM80_MAX_FFT_FP32
    return MAX_FFT


def device_arch(device: torch.device) -> int | None:
    """Compute capability as 80, 90, …; None off CUDA (the interpreter)."""
    if device.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return 10 * major + minor


def shape(seq_len: int, dtype: torch.dtype, arch: int | None = None) -> Shape:
    """The transform for length L; ValueError, naming the limit, where none is shipped.

    The interpreter (arch None) runs the sm_90 shapes; tests pass arch=80 to check sm_80's.
    """
    n = fft_size(seq_len)
    limit = max_fft(arch, dtype)
    if n > limit:
        where = f" on sm_{arch} in {dtype}" if arch is not None else ""
        raise ValueError(
            f"the triton backend handles L ≤ {limit // 2}{where} (FFT size ≤ {limit}); got "
            f"L={seq_len}. Use backend 'fft' or 'blocked' for longer sequences."
        )
    sm80 = arch is not None and arch < 90
    n1, n2 = SM80_FACTORS[n] if sm80 and n in SM80_FACTORS else FACTORS[n]
    return Shape(n, n1, n2)


def precision(dtype: torch.dtype) -> str:
    """tl.dot input precision: fp32-level accuracy for fp32 inputs, tf32 for half inputs."""
    return "tf32x3" if dtype == torch.float32 else "tf32"


def kernel_arg_names() -> tuple[str, ...]:
    code = _monarch_conv_kernel.__code__
    return code.co_varnames[: code.co_argcount]


def runs_interpreted(device: torch.device) -> bool:
    """Off CUDA the kernel runs in the Triton interpreter: correctness, not speed."""
    return torch.device(device).type != "cuda"


def _available(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    if triton is None:
        return False, "triton is not installed (pip install 'hyperf[triton]')"
    if dtype not in DTYPES:
        return False, f"dtype {dtype} not supported; the kernel takes float32, float16, bfloat16"
    if device.type == "cuda":
        arch = device_arch(device)
        if arch < 80:
            return False, "needs an sm_80 or newer GPU (tf32 tensor cores)"
        return True, f"L ≤ {max_fft(arch, dtype) // 2}"
    return True, "interpreter only: correctness, not speed"


if triton is not None:

    def _monarch_conv_kernel(
        x_ptr, y_ptr, spec_r_ptr, spec_i_ptr, skip_ptr, gate_in_ptr, gate_out_ptr,
        f1_r_ptr, f1_i_ptr, f2_r_ptr, f2_i_ptr, tw_r_ptr, tw_i_ptr,
        seq_len, batch, channels,
        x_stride_b, x_stride_c, gi_stride_b, gi_stride_c, go_stride_b, go_stride_c,
        N1: tl.constexpr, N2: tl.constexpr,
        BLOCK_F1: tl.constexpr, BLOCK_T1: tl.constexpr,
        HAS_SKIP: tl.constexpr, HAS_GATE_IN: tl.constexpr, HAS_GATE_OUT: tl.constexpr,
        PRECISION: tl.constexpr,
    ):  # fmt: skip
        # Channel-major program order: programs running together share one filter spectrum,
        # so it is read from DRAM once per channel, not once per row.
        pid = tl.program_id(0)
        c = pid // batch
        b = pid % batch
        HALF: tl.constexpr = N1 // 2
        x_row = x_ptr + b * x_stride_b + c * x_stride_c
        gi_row = gate_in_ptr + b * gi_stride_b + c * gi_stride_c
        cols = tl.arange(0, N2)  # t2 or f2
        sq = cols[:, None] * N2 + cols[None, :]
        out_rows = tl.arange(0, HALF)
        y = tl.full((HALF, N2), 0.0, tl.float32)
        # Not unrolled: copies of a body this large would only compete for registers.
        for f1_start in tl.range(0, N1, BLOCK_F1, loop_unroll_factor=1):
            f1 = f1_start + tl.arange(0, BLOCK_F1)
            # B = F_N1[f1, :HALF] · A[:HALF, :]  (A real: two real dots per tile)
            b_r = tl.full((BLOCK_F1, N2), 0.0, tl.float32)
            b_i = tl.full((BLOCK_F1, N2), 0.0, tl.float32)
            for t1_start in range(0, HALF, BLOCK_T1):
                t1 = t1_start + tl.arange(0, BLOCK_T1)
                t = t1[:, None] * N2 + cols[None, :]
                a = tl.load(x_row + t, mask=t < seq_len, other=0.0).to(tl.float32)
                if HAS_GATE_IN:
                    a *= tl.load(gi_row + t, mask=t < seq_len, other=0.0).to(tl.float32)
                tile = f1[:, None] * N1 + t1[None, :]
                b_r = tl.dot(tl.load(f1_r_ptr + tile), a, b_r, input_precision=PRECISION)
                b_i = tl.dot(tl.load(f1_i_ptr + tile), a, b_i, input_precision=PRECISION)
            # Twiddles T[f1, t2].
            rc = f1[:, None] * N2 + cols[None, :]
            tw_r = tl.load(tw_r_ptr + rc)
            tw_i = tl.load(tw_i_ptr + rc)
            b_r, b_i = b_r * tw_r - b_i * tw_i, b_r * tw_i + b_i * tw_r
            # F_N2 is reloaded per block (an L1 hit) rather than held in registers.
            f2_r = tl.load(f2_r_ptr + sq)
            f2_i = tl.load(f2_i_ptr + sq)
            # C = B · F_N2
            c_r = tl.dot(b_r, f2_r, input_precision=PRECISION)
            c_r = tl.dot(-b_i, f2_i, c_r, input_precision=PRECISION)
            c_i = tl.dot(b_r, f2_i, input_precision=PRECISION)
            c_i = tl.dot(b_i, f2_r, c_i, input_precision=PRECISION)
            # P = C ⊙ K̂/n
            k_r = tl.load(spec_r_ptr + c * N1 * N2 + rc)
            k_i = tl.load(spec_i_ptr + c * N1 * N2 + rc)
            p_r = c_r * k_r - c_i * k_i
            p_i = c_r * k_i + c_i * k_r
            # E = (P · conj(F_N2)) ⊙ conj(T)
            e_r = tl.dot(p_r, f2_r, input_precision=PRECISION)
            e_r = tl.dot(p_i, f2_i, e_r, input_precision=PRECISION)
            e_i = tl.dot(p_i, f2_r, input_precision=PRECISION)
            e_i = tl.dot(-p_r, f2_i, e_i, input_precision=PRECISION)
            e_r, e_i = e_r * tw_r + e_i * tw_i, e_i * tw_r - e_r * tw_i
            # Y += Re(conj(F_N1)[:HALF, f1] · E)
            g = out_rows[:, None] * N1 + f1[None, :]
            y = tl.dot(tl.load(f1_r_ptr + g), e_r, y, input_precision=PRECISION)
            y = tl.dot(tl.load(f1_i_ptr + g), e_i, y, input_precision=PRECISION)

        t = out_rows[:, None] * N2 + cols[None, :]
        inside = t < seq_len
        if HAS_SKIP:
            v = tl.load(x_row + t, mask=inside, other=0.0).to(tl.float32)
            if HAS_GATE_IN:
                v *= tl.load(gi_row + t, mask=inside, other=0.0).to(tl.float32)
            y += tl.load(skip_ptr + c).to(tl.float32) * v
        if HAS_GATE_OUT:
            go_row = gate_out_ptr + b * go_stride_b + c * go_stride_c
            y *= tl.load(go_row + t, mask=inside, other=0.0).to(tl.float32)
        y_row = y_ptr + (b * channels + c) * seq_len
        tl.store(y_row + t, y.to(y_ptr.dtype.element_ty), mask=inside)


@functools.cache
def compiled_kernel():
    """The kernel as a JITFunction, whatever TRITON_INTERPRET says (for GPUs and AOT)."""
    from triton.runtime.jit import JITFunction

    return JITFunction(_monarch_conv_kernel)


@functools.cache
def interpreted_kernel():
    """The kernel as the Triton interpreter runs it (numpy, any machine)."""
    from triton.runtime.interpreter import InterpretedFunction

    return InterpretedFunction(_monarch_conv_kernel)


@functools.cache
def autotuned_kernel(n: int):
    """The GPU kernel for FFT size n, autotuned over CONFIGS[n]."""
    configs = [
        triton.Config(
            {"BLOCK_F1": c.block_f1, "BLOCK_T1": c.block_t1},
            num_warps=c.num_warps,
            num_stages=c.num_stages,
        )
        for c in CONFIGS[n]
    ]
    return triton.autotune(configs, key=["seq_len", "batch", "channels"])(compiled_kernel())


@functools.lru_cache(maxsize=32)
def dft_tables(n1: int, n2: int, device: torch.device) -> dict[str, torch.Tensor]:
    """F_N1, F_N2 and the twiddles as fp32 (real, imag) pairs, W = exp(−2πi·/·)."""
    (c1, s1), (c2, s2) = _dft(n1, device, torch.float32), _dft(n2, device, torch.float32)
    tc, ts = _twiddle(n1, n2, device, torch.float32)
    return {
        "f1_r": c1, "f1_i": (-s1).contiguous(),
        "f2_r": c2, "f2_i": (-s2).contiguous(),
        "tw_r": tc, "tw_i": (-ts).contiguous(),
    }  # fmt: skip


def filter_spectrum(k: torch.Tensor, s: Shape) -> tuple[torch.Tensor, torch.Tensor]:
    """K̂/n of each channel's filter in the kernel's (f1, f2) layout: [c, f1, f2] = K̂[f1 + N1·f2]."""
    spec = torch.fft.fft(k.to(torch.float32), n=s.n) / s.n  # (C, n)
    spec = spec.view(-1, s.n2, s.n1).transpose(1, 2)
    return spec.real.contiguous(), spec.imag.contiguous()


def launch(
    x: torch.Tensor,
    s: Shape,
    spectrum: tuple[torch.Tensor, torch.Tensor],
    D: torch.Tensor | None = None,
    gate_in: torch.Tensor | None = None,
    gate_out: torch.Tensor | None = None,
    config: KernelConfig | None = None,
) -> torch.Tensor:
    """Run the kernel once: gate_out ⊙ (k ∗ v + D·v), v = gate_in ⊙ x, in x's dtype."""
    batch, channels, seq_len = x.shape
    x, gate_in, gate_out = (
        None if t is None else (t if t.stride(-1) == 1 else t.contiguous())
        for t in (x, gate_in, gate_out)
    )
    y = torch.empty(batch, channels, seq_len, device=x.device, dtype=x.dtype)
    dummy = x  # pointer for absent optional operands; never dereferenced
    args = dict(
        x_ptr=x, y_ptr=y, spec_r_ptr=spectrum[0], spec_i_ptr=spectrum[1],
        skip_ptr=dummy if D is None else D.to(torch.float32).contiguous(),
        gate_in_ptr=dummy if gate_in is None else gate_in,
        gate_out_ptr=dummy if gate_out is None else gate_out,
        **{f"{name}_ptr": t for name, t in dft_tables(s.n1, s.n2, x.device).items()},
        seq_len=seq_len, batch=batch, channels=channels,
        x_stride_b=x.stride(0), x_stride_c=x.stride(1),
        gi_stride_b=0 if gate_in is None else gate_in.stride(0),
        gi_stride_c=0 if gate_in is None else gate_in.stride(1),
        go_stride_b=0 if gate_out is None else gate_out.stride(0),
        go_stride_c=0 if gate_out is None else gate_out.stride(1),
        N1=s.n1, N2=s.n2,
        HAS_SKIP=D is not None, HAS_GATE_IN=gate_in is not None,
        HAS_GATE_OUT=gate_out is not None,
        PRECISION=precision(x.dtype),
    )  # fmt: skip
    grid = (batch * channels,)
    if runs_interpreted(x.device):
        cfg = config or CONFIGS[s.n][0]
        interpreted_kernel()[grid](**args, BLOCK_F1=cfg.block_f1, BLOCK_T1=cfg.block_t1)
    elif config is not None:
        compiled_kernel()[grid](**args, **config.as_dict())
    else:
        autotuned_kernel(s.n)[grid](**args)
    return y


class MonarchConv(torch.autograd.Function):
    """Autograd for y = post ⊙ (k ∗ v + D·v), v = pre ⊙ u; du through the Triton kernel."""

    @staticmethod
    def forward(ctx, u, k, D, pre, post):
        s = shape(u.shape[-1], u.dtype, device_arch(u.device))
        spectrum = filter_spectrum(k, s)
        y = launch(u, s, spectrum, D, pre, post)
        ctx.save_for_backward(u, k, D, pre, post, *spectrum)
        ctx.shape = s
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        u, k, D, pre, post, spec_r, spec_i = ctx.saved_tensors
        need_u, need_k, need_D, need_pre, need_post = ctx.needs_input_grad
        s, n = ctx.shape, 2 * u.shape[-1]  # n: the torch FFTs of dk need only 2L
        conj = (spec_r, -spec_i)
        grad_u = grad_k = grad_D = grad_pre = grad_post = None
        # dv = corr(k, g) + D·g with g = post ⊙ grad; du = pre ⊙ dv.
        if need_u and not need_pre:
            grad_u = launch(grad, s, conj, D, gate_in=post, gate_out=pre)
        elif need_u or need_pre:
            dv = launch(grad, s, conj, D, gate_in=post)
            grad_u = None if not need_u else (dv if pre is None else dv * pre)
            grad_pre = (dv * u).to(pre.dtype) if need_pre else None
        if need_post:
            z = launch(u, s, (spec_r, spec_i), D, gate_in=pre)
            grad_post = (grad * z).to(post.dtype)
        if need_k or need_D:
            f32 = torch.float32
            g = grad.to(f32) if post is None else grad.to(f32) * post.to(f32)
            v = u.to(f32) if pre is None else u.to(f32) * pre.to(f32)
            if need_k:
                cross = (torch.fft.rfft(g, n=n) * torch.fft.rfft(v, n=n).conj()).sum(0)
                grad_k = torch.fft.irfft(cross, n=n)[..., : k.shape[-1]].to(k.dtype)
            if need_D:
                grad_D = torch.einsum("bct,bct->c", g, v).to(D.dtype)
        return grad_u, grad_k, grad_D, grad_pre, grad_post


def gated_long_conv(
    u: torch.Tensor,
    k: torch.Tensor,
    D: torch.Tensor | None = None,
    pre: torch.Tensor | None = None,
    post: torch.Tensor | None = None,
) -> torch.Tensor:
    """post ⊙ ((k ∗ (pre ⊙ u))[:L] + D·(pre ⊙ u)) in one kernel: a whole Hyena order step.

    Inputs are validated by ``hyperf.ops.long_conv``, the public entry point.
    """
    ok, reason = _available(u.device, u.dtype)
    if not ok:
        raise RuntimeError(f"longconv:triton cannot run on {u.device} {u.dtype}: {reason}")
    with region("long conv"):  # the gates are fused into the kernel, so they are counted here
        return MonarchConv.apply(u, k, D, pre, post)


def _max_seq_len(device: torch.device, dtype: torch.dtype) -> int:
    return max_fft(device_arch(device), dtype) // 2


def triton_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs: dense DFT blocks on one row of n = N1·N2.

    Per row, with H = N1/2 nonzero input rows: column DFTs of the real input 2·(2·N1·H·N2) =
    2·n·N1; forward and inverse row DFTs, complex, 4·(2·N1·N2²) = 8·n·N2 each; inverse column
    DFTs to a real output 2·n·N1; so 4·n·N1 + 16·n·N2 matmul FLOPs. Two twiddles and the
    spectral product are 18·n; the filter's complex FFT is paid once per channel. The backward
    runs the kernel again for du (same cost) and torch FFTs for dk.
    """
    s = shape(seq_len, torch.float16)  # sm_90's (and the interpreter's) transform
    n, rows, bins = s.n, batch * channels, seq_len + 1
    forward = {
        "monarch_matmul": rows * (4 * n * s.n1 + 16 * n * s.n2),
        "twiddle": rows * 12 * n,
        "spectral_product": rows * 6 * n,
        "fft": channels * 2 * fft_flops(n),  # complex FFT of each filter
        "skip": 2 * rows * seq_len,
    }
    backward = {
        "monarch_matmul": forward["monarch_matmul"],
        "twiddle": forward["twiddle"],
        "spectral_product": forward["spectral_product"] + 6 * rows * bins,
        "fft": 2 * rows * fft_flops(2 * seq_len) + channels * fft_flops(2 * seq_len),  # dk
        "skip": 4 * rows * seq_len,
    }
    return forward, backward


def _bytes(w: Workload) -> Terms:
    """Fused: u in and y out (a gate's read is the caller's), the filter's K̂ per channel."""
    spectrum = 8 * fft_size(w.seq_len) * w.d_model
    return {"long_conv": element_size(w) * w.batch * w.d_model * w.seq_len * 2 + spectrum}


def _memory(w: Workload) -> Memory:
    """The input and the filter's spectrum (the gates are the caller's streams)."""
    return Memory(input_bytes(w) + 8 * w.d_model * fft_size(w.seq_len))


@register(
    "longconv:triton",
    available=_available,
    max_seq_len=_max_seq_len,
    summary="fused Monarch FFT convolution in Triton (tl.dot DFTs, L ≤ 8192)",
    oracle="longconv:reference",
    interpreted=runs_interpreted,
    flop_terms=lambda w: triton_conv_terms(w.batch, w.d_model, w.seq_len),
    byte_terms=_bytes,
    memory=_memory,
    time_model=TimeModel("fused_dft", kernels=3),
    colour="#9467bd",  # purple
)
def triton_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """The Monarch kernel without gates."""
    return gated_long_conv(u, k, D)


triton_conv.gated = gated_long_conv  # long_conv hands the gates to the kernel
