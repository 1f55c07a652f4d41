"""Monarch-FFT long convolution in Triton: every DFT a ``tl.dot`` on the tensor cores.

Each program computes ``rows`` (batch, channel) rows end to end::

    y = post ⊙ ( (k ∗ v)[:L] + D·v ),   v = pre ⊙ u          (pre, post optional)

with the n-point DFT (n ≥ 2L, a power of two) split as n = N1·N2 (Cooley–Tukey, the layout of
``blocked`` and of FlashFFTConv, Fu et al. 2023: input index t = N2·t1 + t2, frequency
f = f1 + N1·f2). Viewing a zero-padded row as the N1×N2 matrix A[t1, t2]::

    B = F_N1 · A                 column DFTs; A's rows t1 ≥ N1/2 are padding, never loaded
    B ⊙= T,  T[f1, t2] = W_n^{f1·t2}                                   twiddles
    C = B · F_N2                 row DFTs: C[f1, f2] = Û[f1 + N1·f2]
    P = C ⊙ K̂                   the filter's spectrum, computed once per channel
    E = (P · F̄_N2) ⊙ T̄          inverse row DFTs and twiddles
    Y = Re(F̄_N1 · E)[:N1/2]     inverse column DFTs; only the rows that hold t < L

A program's rows sit side by side in every tile (A is N1/2 × rows·N2), so the column DFTs
have N = rows·N2, and for the row DFTs each block is restacked to (BLOCK_F1·rows) × N2, so
their M grows with the rows too. A, with the input gate applied, is read once and held on
chip as the column DFTs' shared operand, except where that would spill (``resident`` off:
it streams again for each block). The loop runs over blocks of BLOCK_F1 spectrum rows f1:
forward, through the filter, back through the row DFTs. Then one of two schemes:

- fused (n ≤ 16384, L ≤ 8192): each block adds its share of the inverse column DFT to Y,
  held in registers (rows·n/2 fp32) until the single store. u and the gates are read, y is
  written; nothing else leaves the chip but the small shared tables.
- two passes (n up to 65536, L ≤ 32768), where Y would not fit: the first launch writes E to
  a scratch buffer (2n values a row in the dot dtype), the second reads it back block by
  block for the inverse column DFTs. Channels go in chunks so the buffer stays under
  SCRATCH_BYTES.
Both end in the same epilogue: the skip D·v and the output gate, fused.

Precision: fp16 and bf16 inputs run every dot on fp16/bf16 operands with fp32 accumulation
(the tensor cores' full rate); each stage's fp32 result is rounded to the input dtype before
the next dot. The DFT factors are unitary (F/√N), so values stay near the input's scale (fp16
overflows at 65504) and the four of them make the inverse's 1/n. fp32 inputs take tf32x3
dots (three tf32 products: fp32-level accuracy). Twiddles, the spectral product, the skip
and the gates are fp32.

Backward: the adjoint of a convolution is a correlation, i.e. the same kernel with the
conjugate filter spectrum (with n ≥ 2L the wrap-around terms of the circular correlation land
on zero filter taps), so du runs in Triton too, with the gates' roles swapped. dk, dD and the
gates' gradients are reductions, done with torch.

``triton_aot`` compiles every shipped configuration for sm_80 and sm_90 and checks for
spills, shared-memory overflow and the MMA instructions; ``traffic`` is the kernel's own
account of the bytes each program moves. On CPU the kernel runs in the Triton interpreter
(numpy): right answers, meaningless times.
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
from hyperf.registry import Launch, Memory, Terms, TimeModel, register

if TYPE_CHECKING:
    from hyperf.workload import Workload

try:
    import triton
    import triton.language as tl
except ImportError:  # the `triton` extra is optional
    triton = None

MIN_FFT = 512  # N1/2 ≥ 16 and N2 ≥ 16: the smallest tiles tl.dot takes
FUSED_MAX_FFT = 16384  # L ≤ 8192: Y (n/2 fp32 a row) stays in registers until the store
MAX_FFT = 65536  # L ≤ 32768: two passes, E through a scratch buffer
MAX_SEQ_LEN = MAX_FFT // 2
# n → (N1, N2): N2 ≤ 64 keeps F_N2 and the row tiles small; N1 grows instead, and F_N1 is
# streamed in tiles. Chosen by compiling the candidates (triton_aot).
FACTORS = {
    512: (32, 16),
    1024: (32, 32),
    2048: (32, 64),
    4096: (64, 64),
    8192: (128, 64),
    16384: (256, 64),
    32768: (512, 64),
    65536: (1024, 64),
}
# sm_80 has no wgmma: mma.sync keeps F_N2 and the row tiles in every warp's registers, and
# with N2 = 64 the fused sizes above 4096 spill; N2 = 32 compiles clean there.
SM80_FACTORS = {8192: (256, 32), 16384: (512, 32)}
# fp32 inputs take tf32x3 dots (three tf32 products each), which on sm_80 spill beyond 4096.
SM80_MAX_FFT_FP32 = 4096
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SCRATCH_BYTES = 1 << 30  # the two-pass E buffer: channels are done in chunks under this


@dataclass(frozen=True)
class Shape:
    """The transform one launch uses: FFT size n = n1·n2, in one fused pass or two."""

    n: int
    n1: int
    n2: int

    @property
    def fused(self) -> bool:
        return self.n <= FUSED_MAX_FFT


@dataclass(frozen=True)
class KernelConfig:
    """One shipped launch configuration: tile sizes, rows per program and the GPU schedule.

    ``block_f1``: spectrum rows f1 per step (the column DFT's M; the two-pass output's K
    step); ``block_t1``: input rows t1 per step where the input streams (the column DFT's
    K) and the two-pass output's M; ``rows``: (batch, channel) rows per program, side by
    side in every tile; ``resident``: the program's input is read once and held on chip
    (else re-read for every block of f1, where holding it would spill).
    """

    block_f1: int
    block_t1: int
    rows: int
    num_warps: int
    resident: bool = True
    num_stages: int = 1

    def as_dict(self) -> dict:
        return {
            "BLOCK_F1": self.block_f1,
            "BLOCK_T1": self.block_t1,
            "ROWS": self.rows,
            "RESIDENT": self.resident,
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
        }

    def constants(self) -> dict:
        return {k: v for k, v in self.as_dict().items() if k.isupper()}


# Autotuning candidates per FFT size for fp16/bf16 inputs; the first is the one the
# interpreter runs and the predictor assumes. Each compiles without spills for sm_80 and
# sm_90 (test_triton_aot, ``hyperf kernels``). Several rows a program pay off where a row's
# tiles are small; from n = 8192 one row already fills the register file.
_K = KernelConfig
HALF_CONFIGS: dict[int, list[KernelConfig]] = {
    512: [_K(16, 16, 4, 4), _K(16, 16, 2, 4)],
    1024: [_K(16, 16, 4, 4), _K(16, 16, 2, 4)],
    2048: [_K(16, 16, 2, 4), _K(32, 16, 2, 8)],
    4096: [_K(16, 16, 2, 8), _K(32, 32, 1, 8), _K(16, 16, 1, 4)],
    8192: [_K(16, 16, 1, 8), _K(32, 32, 1, 8)],
    16384: [_K(16, 16, 1, 8, False), _K(32, 32, 1, 8, False)],
    32768: [_K(32, 32, 1, 8), _K(32, 64, 1, 8), _K(16, 16, 1, 8)],
    65536: [_K(32, 32, 1, 8, False), _K(32, 64, 1, 8, False), _K(16, 16, 1, 8, False)],
}
# fp32's tf32x3 dots triple the operand registers: one row a program, small blocks, and the
# input streamed from n = 4096.
FP32_CONFIGS = {n: [_K(16, 16, 1, 8, n <= 2048)] for n in FACTORS}
FP32_CONFIGS[512] = [_K(16, 16, 2, 4), _K(16, 16, 1, 8)]
# Programs one SM holds at once with the first configuration, by its bf16 registers (65536
# a SM over registers × 32 × warps), per target: 90 for Hopper and newer, 80 for Ampere and
# Ada (mma.sync, and sm_80's own shapes at n = 8192/16384). ``hyperf kernels`` prints them;
# test_triton_aot checks this table against the compiler. The predictor's waves follow.
RESIDENT_PROGRAMS = {
    90: {
        (512, "fused"): 3, (1024, "fused"): 2, (2048, "fused"): 2, (4096, "fused"): 1,
        (8192, "fused"): 1, (16384, "fused"): 1, (32768, "spectrum"): 1, (32768, "output"): 2,
        (65536, "spectrum"): 1, (65536, "output"): 2,
    },
    80: {
        (512, "fused"): 2, (1024, "fused"): 2, (2048, "fused"): 2, (4096, "fused"): 1,
        (8192, "fused"): 1, (16384, "fused"): 1, (32768, "spectrum"): 1, (32768, "output"): 3,
        (65536, "spectrum"): 1, (65536, "output"): 3,
    },
}  # fmt: skip


def configs(n: int, dtype: torch.dtype) -> list[KernelConfig]:
    """The autotuner's candidates for FFT size n and input dtype."""
    return (FP32_CONFIGS if dtype == torch.float32 else HALF_CONFIGS)[n]


STAGES = {"fused": 0, "spectrum": 1, "output": 2}  # the kernel's STAGE per launch


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
    """The transform for length L; ValueError, naming the limit, where none is shipped."""
    n = fft_size(seq_len)
    limit = max_fft(arch, dtype)
    if n > limit:
        where = f" on sm_{arch} in {dtype}" if arch is not None else ""
        raise ValueError(
            f"the triton backend handles L ≤ {limit // 2}{where} (FFT size ≤ {limit}); got "
            f"L={seq_len}. Use backend 'fft' or 'blocked' for longer sequences."
        )
    sm80 = arch is not None and arch < 90
    return Shape(n, *(SM80_FACTORS[n] if sm80 and n in SM80_FACTORS else FACTORS[n]))


def stages(s: Shape) -> tuple[str, ...]:
    """The launches one convolution makes: one fused kernel, or spectrum then output."""
    return ("fused",) if s.fused else ("spectrum", "output")


def precision(dtype: torch.dtype) -> str:
    """tl.dot input precision: tf32x3 (fp32-level) for fp32; fp16/bf16 operands as they are."""
    return "tf32x3" if dtype == torch.float32 else "tf32"  # the latter is ignored for halves


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
            return False, "needs an sm_80 or newer GPU (bf16 and tf32 tensor cores)"
        return True, f"L ≤ {max_fft(arch, dtype) // 2}"
    return True, "interpreter only: correctness, not speed"


if triton is not None:
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    class DeviceFunction(JITFunction):
        """A @triton.jit helper that both the compiler and the interpreter can call.

        The module builds its kernel two ways (``compiled_kernel``, ``interpreted_kernel``)
        whatever TRITON_INTERPRET says, so its helpers cannot be plain ``triton.jit`` ones:
        compiled, a call is inlined like any JITFunction callee's; interpreted, calling it
        runs its Python body through the interpreter.
        """

        def __call__(self, *args, **kwargs):
            if not hasattr(self, "interpreted"):
                self.interpreted = InterpretedFunction(self.fn)
            return self.interpreted(*args, **kwargs)

    def _gated_rows(
        x_ptr, gate_ptr, x_col, gate_col, t2, row_ok, seq_len, t1_start,
        N2: tl.constexpr, COUNT: tl.constexpr, HAS_GATE: tl.constexpr,
    ):  # fmt: skip
        """v = x ⊙ gate in fp32 on rows t1_start … + COUNT of the (t1, (row, t2)) layout,
        zero past L and past the last row."""
        t = (t1_start + tl.arange(0, COUNT))[:, None] * N2 + t2[None, :]
        inside = (t < seq_len) & row_ok[None, :]
        v = tl.load(x_ptr + x_col[None, :] + t, mask=inside, other=0.0).to(tl.float32)
        if HAS_GATE:
            v *= tl.load(gate_ptr + gate_col[None, :] + t, mask=inside, other=0.0).to(tl.float32)
        return v

    gated_rows = DeviceFunction(_gated_rows)

    def _monarch_conv_kernel(
        x_ptr, y_ptr, e_ptr, spec_r_ptr, spec_i_ptr, skip_ptr, gate_in_ptr, gate_out_ptr,
        f1_r_ptr, f1_i_ptr, f2_r_ptr, f2_i_ptr, f2_ni_ptr, tw_r_ptr, tw_i_ptr,
        seq_len, batch, channels,
        x_stride_b, x_stride_c, y_stride_b, y_stride_c, gi_stride_b, gi_stride_c,
        go_stride_b, go_stride_c,
        N1: tl.constexpr, N2: tl.constexpr, STAGE: tl.constexpr,
        ROWS: tl.constexpr, BLOCK_F1: tl.constexpr, BLOCK_T1: tl.constexpr, RESIDENT: tl.constexpr,
        HAS_SKIP: tl.constexpr, HAS_GATE_IN: tl.constexpr, HAS_GATE_OUT: tl.constexpr,
        PRECISION: tl.constexpr,
    ):  # fmt: skip
        # The program's ROWS rows sit side by side in every tile: column j is row j // N2's
        # t2 (or f2) = j % N2. Rows run channel-major, so neighbours share a filter spectrum.
        HALF: tl.constexpr = N1 // 2
        WIDE: tl.constexpr = ROWS * N2
        TALL: tl.constexpr = BLOCK_F1 * ROWS  # a block's rows stacked for the row DFTs
        dot_ty = f1_r_ptr.dtype.element_ty  # fp16/bf16 for half inputs, fp32 for fp32
        col = tl.arange(0, WIDE)
        t2 = col % N2
        first = tl.program_id(0) * ROWS
        row = first + col // N2
        row_ok = row < batch * channels
        b, c = row % batch, row // batch
        # Each tensor at the program's first row as a 64-bit pointer (a (B, C, L) tensor
        # passes 2³¹ elements at B=64, L=32K), its rows as 32-bit offsets from there.
        b0, c0 = (first % batch).to(tl.int64), (first // batch).to(tl.int64)
        db, dc = b - (first % batch), c - (first // batch)
        x_ptr += b0 * x_stride_b + c0 * x_stride_c
        y_ptr += b0 * y_stride_b + c0 * y_stride_c
        gate_in_ptr += b0 * gi_stride_b + c0 * gi_stride_c
        gate_out_ptr += b0 * go_stride_b + c0 * go_stride_c
        e_ptr += (b0 * channels + c0) * 2 * N1 * N2
        x_col = db * x_stride_b + dc * x_stride_c
        gi_col = db * gi_stride_b + dc * gi_stride_c
        e_col = (db * channels + dc) * 2 * N1 * N2
        if STAGE != 2:  # forward DFT, filter, inverse row DFTs: E one block of f1 at a time
            stacked = tl.arange(0, TALL)  # (f1 offset, row) pairs of the stacked layout
            f2 = tl.arange(0, N2)
            sq = f2[:, None] * N2 + f2[None, :]
            k_row = (tl.program_id(0) * ROWS + stacked % ROWS) // batch
            k_row = tl.minimum(k_row, channels - 1)  # rows past the end read channel C-1
            # A[:HALF, :] (its rows t1 ≥ N1/2 are padding): read once and kept on chip
            # (RESIDENT), or streamed in tiles of BLOCK_T1 rows for every block of f1 where
            # holding it would spill
            T1: tl.constexpr = HALF if RESIDENT else BLOCK_T1
            if RESIDENT:
                a_all = gated_rows(x_ptr, gate_in_ptr, x_col, gi_col, t2, row_ok, seq_len, 0,
                                   N2, HALF, HAS_GATE_IN).to(dot_ty)  # fmt: skip
            if STAGE == 0:
                y = tl.full((HALF, WIDE), 0.0, tl.float32)
            for f1_start in tl.range(0, N1, BLOCK_F1, loop_unroll_factor=1):
                f1 = f1_start + tl.arange(0, BLOCK_F1)
                # B = F_N1[f1, :HALF] · A
                b_r = tl.full((BLOCK_F1, WIDE), 0.0, tl.float32)
                b_i = tl.full((BLOCK_F1, WIDE), 0.0, tl.float32)
                for t1_start in range(0, HALF, T1):
                    if RESIDENT:
                        a = a_all
                    else:
                        a = gated_rows(x_ptr, gate_in_ptr, x_col, gi_col, t2, row_ok, seq_len,
                                       t1_start, N2, T1, HAS_GATE_IN).to(dot_ty)  # fmt: skip
                    tile = f1[:, None] * N1 + (t1_start + tl.arange(0, T1))[None, :]
                    b_r = tl.dot(tl.load(f1_r_ptr + tile), a, b_r, input_precision=PRECISION)
                    b_i = tl.dot(tl.load(f1_i_ptr + tile), a, b_i, input_precision=PRECISION)
                # Twiddles T[f1, t2], then the rows stacked: C = B · F_N2 with M = TALL
                tw = f1[:, None] * N2 + t2[None, :]
                tw_r = tl.load(tw_r_ptr + tw)
                tw_i = tl.load(tw_i_ptr + tw)
                b_r, b_i = b_r * tw_r - b_i * tw_i, b_r * tw_i + b_i * tw_r
                b_r = tl.reshape(b_r.to(dot_ty), (TALL, N2))
                b_i = tl.reshape(b_i.to(dot_ty), (TALL, N2))
                f2_r = tl.load(f2_r_ptr + sq)
                f2_i = tl.load(f2_i_ptr + sq)
                f2_ni = tl.load(f2_ni_ptr + sq)  # −imag: no negated operands in the dots
                c_r = tl.dot(b_r, f2_r, input_precision=PRECISION)
                c_r = tl.dot(b_i, f2_ni, c_r, input_precision=PRECISION)
                c_i = tl.dot(b_r, f2_i, input_precision=PRECISION)
                c_i = tl.dot(b_i, f2_r, c_i, input_precision=PRECISION)
                # P = C ⊙ K̂ (each row's own channel), then E = (P · conj F_N2) ⊙ conj T
                k = (k_row[:, None] * N1 + f1_start + stacked[:, None] // ROWS) * N2 + f2[None, :]
                k_r = tl.load(spec_r_ptr + k)
                k_i = tl.load(spec_i_ptr + k)
                p_r = (c_r * k_r - c_i * k_i).to(dot_ty)
                p_i = (c_r * k_i + c_i * k_r).to(dot_ty)
                e_r = tl.dot(p_r, f2_r, input_precision=PRECISION)
                e_r = tl.dot(p_i, f2_i, e_r, input_precision=PRECISION)
                e_i = tl.dot(p_i, f2_r, input_precision=PRECISION)
                e_i = tl.dot(p_r, f2_ni, e_i, input_precision=PRECISION)
                e_r = tl.reshape(e_r, (BLOCK_F1, WIDE))
                e_i = tl.reshape(e_i, (BLOCK_F1, WIDE))
                e_r, e_i = e_r * tw_r + e_i * tw_i, e_i * tw_r - e_r * tw_i
                e_r, e_i = e_r.to(dot_ty), e_i.to(dot_ty)
                if STAGE == 0:  # Y += Re(conj F_N1[:HALF, f1] · E), held until the store
                    fi = tl.arange(0, HALF)[:, None] * N1 + f1[None, :]
                    y = tl.dot(tl.load(f1_r_ptr + fi), e_r, y, input_precision=PRECISION)
                    y = tl.dot(tl.load(f1_i_ptr + fi), e_i, y, input_precision=PRECISION)
                else:  # two passes: E to the scratch buffer
                    e = e_col[None, :] + f1[:, None] * N2 + t2[None, :]
                    tl.store(e_ptr + e, e_r, mask=row_ok[None, :])
                    tl.store(e_ptr + N1 * N2 + e, e_i, mask=row_ok[None, :])
        if STAGE != 1:  # Y = Re(conj F_N1 · E) rows, skip and gate; fused: one block of HALF
            OUT: tl.constexpr = HALF if STAGE == 0 else BLOCK_T1
            for t1_start in range(0, HALF, OUT):
                t1 = t1_start + tl.arange(0, OUT)
                if STAGE == 2:
                    y = tl.full((OUT, WIDE), 0.0, tl.float32)
                    for f1_start in tl.range(0, N1, BLOCK_F1, loop_unroll_factor=1):
                        f1 = f1_start + tl.arange(0, BLOCK_F1)
                        fi = t1[:, None] * N1 + f1[None, :]
                        e = e_col[None, :] + f1[:, None] * N2 + t2[None, :]
                        e_r = tl.load(e_ptr + e, mask=row_ok[None, :], other=0.0)
                        e_i = tl.load(e_ptr + N1 * N2 + e, mask=row_ok[None, :], other=0.0)
                        y = tl.dot(tl.load(f1_r_ptr + fi), e_r, y, input_precision=PRECISION)
                        y = tl.dot(tl.load(f1_i_ptr + fi), e_i, y, input_precision=PRECISION)
                t = t1[:, None] * N2 + t2[None, :]
                inside = (t < seq_len) & row_ok[None, :]
                if HAS_SKIP:
                    v = gated_rows(x_ptr, gate_in_ptr, x_col, gi_col, t2, row_ok, seq_len,
                                   t1_start, N2, OUT, HAS_GATE_IN)  # fmt: skip
                    y += tl.load(skip_ptr + c, mask=row_ok, other=0.0)[None, :] * v
                if HAS_GATE_OUT:
                    go = gate_out_ptr + (db * go_stride_b + dc * go_stride_c)[None, :] + t
                    y *= tl.load(go, mask=inside, other=0.0).to(tl.float32)
                out = y_ptr + (db * y_stride_b + dc * y_stride_c)[None, :] + t
                tl.store(out, y.to(y_ptr.dtype.element_ty), mask=inside)


@functools.cache
def compiled_kernel():
    """The kernel as a JITFunction, whatever TRITON_INTERPRET says (for GPUs and AOT)."""
    from triton.runtime.jit import JITFunction

    return JITFunction(_monarch_conv_kernel)


@functools.cache
def interpreted_kernel():
    """The kernel as the Triton interpreter runs it (numpy, any machine)."""
    from triton.runtime.interpreter import InterpretedFunction

    _interpreter_dot_takes_bf16()
    return InterpretedFunction(_monarch_conv_kernel)


def _interpreter_dot_takes_bf16() -> None:
    """Let the interpreter's tl.dot take bf16 operands.

    Triton's interpreter (3.x) keeps bf16 tensors as their uint16 bit patterns and its dot
    multiplies those integers. Widening both operands to fp32 first gives what the GPU's
    bf16 MMA computes: every bf16 is an fp32 and the product of two is exact in fp32, summed
    in fp32 (in another order).
    """
    from triton.runtime import interpreter

    builder = interpreter.interpreter_builder
    if getattr(builder, "hyperf_bf16_dot", False):
        return
    dot = builder.create_dot

    def create_dot(a, b, d, *args):
        a, b = (
            builder.cast_impl(x, tl.float32) if x.dtype.scalar == tl.bfloat16 else x for x in (a, b)
        )
        return dot(a, b, d, *args)

    builder.create_dot = create_dot
    builder.hyperf_bf16_dot = True


@functools.cache
def autotuned_kernel(n: int, dtype: torch.dtype):
    """The GPU kernel for FFT size n, autotuned over configs(n, dtype) (each stage apart)."""
    candidates = [
        triton.Config(c.constants(), num_warps=c.num_warps, num_stages=c.num_stages)
        for c in configs(n, dtype)
    ]
    return triton.autotune(candidates, key=["seq_len", "batch", "channels", "STAGE"])(
        compiled_kernel()
    )


@functools.lru_cache(maxsize=32)
def dft_tables(n1: int, n2: int, device: torch.device, dtype: torch.dtype) -> dict:
    """F_N1/√N1 and F_N2/√N2 in the dot dtype, the twiddles in fp32; (real, imag) pairs.

    W = exp(−2πi·/·). Unitary factors keep every stage's values near the input's scale (fp16
    overflows at 65504), and the four of them make the inverse's 1/n.
    """
    (c1, s1), (c2, s2) = _dft(n1, device, torch.float64), _dft(n2, device, torch.float64)
    tc, ts = _twiddle(n1, n2, device, torch.float32)
    r1, r2 = n1**-0.5, n2**-0.5
    return {
        "f1_r": (c1 * r1).to(dtype), "f1_i": (-s1 * r1).to(dtype),
        "f2_r": (c2 * r2).to(dtype), "f2_i": (-s2 * r2).to(dtype), "f2_ni": (s2 * r2).to(dtype),
        "tw_r": tc, "tw_i": (-ts).contiguous(),
    }  # fmt: skip


def filter_spectrum(k: torch.Tensor, s: Shape) -> tuple[torch.Tensor, torch.Tensor]:
    """K̂ of each channel's filter in the kernel's (f1, f2) layout: [c, f1, f2] = K̂[f1 + N1·f2].

    Computed once per channel per call and shared by every row of that channel.
    """
    spec = torch.fft.fft(k.to(torch.float32), n=s.n)  # (C, n)
    spec = spec.view(-1, s.n2, s.n1).transpose(1, 2)
    return spec.real.contiguous(), spec.imag.contiguous()


def scratch_channels(s: Shape, batch: int, channels: int, dtype: torch.dtype) -> int:
    """Channels per two-pass launch: E, (B, C, 2, N1, N2) in the dot dtype, under SCRATCH_BYTES."""
    per_channel = batch * 2 * s.n * torch.finfo(dtype).bits // 8
    return max(1, min(channels, SCRATCH_BYTES // per_channel))


def launch(
    x: torch.Tensor,
    s: Shape,
    spectrum: tuple[torch.Tensor, torch.Tensor],
    D: torch.Tensor | None = None,
    gate_in: torch.Tensor | None = None,
    gate_out: torch.Tensor | None = None,
    config: KernelConfig | None = None,
) -> torch.Tensor:
    """Run the kernel: gate_out ⊙ (k ∗ v + D·v), v = gate_in ⊙ x, in x's dtype.

    ``config``: one fixed configuration (the interpreter's default: the first candidate); on a GPU
    without it, the autotuned kernel.
    """
    batch, channels, seq_len = x.shape
    x, gate_in, gate_out = (
        None if t is None else (t if t.stride(-1) == 1 else t.contiguous())
        for t in (x, gate_in, gate_out)
    )
    y = torch.empty(batch, channels, seq_len, device=x.device, dtype=x.dtype)
    skip = None if D is None else D.to(torch.float32).contiguous()
    tables = dft_tables(s.n1, s.n2, x.device, x.dtype)
    step = channels if s.fused else scratch_channels(s, batch, channels, x.dtype)
    scratch = None if s.fused else torch.empty(batch, step, 2, s.n, device=x.device, dtype=x.dtype)
    for c0 in range(0, channels, step):
        part = slice(c0, min(c0 + step, channels))
        x_, y_, pre_, post_ = (None if t is None else t[:, part] for t in (x, y, gate_in, gate_out))
        spec = (spectrum[0][part], spectrum[1][part])
        skip_ = None if skip is None else skip[part]
        for stage in stages(s):
            _run(stage, config, x_, y_, scratch, spec, skip_, pre_, post_, tables, s)
    return y


def _run(stage, config, x, y, scratch, spectrum, skip, gate_in, gate_out, tables, s) -> None:
    """One launch of the kernel over x's (batch, channel) rows."""
    batch, channels, seq_len = x.shape
    rows = batch * channels
    dummy = x  # pointer for absent optional operands; never dereferenced
    args = dict(
        x_ptr=x, y_ptr=y, e_ptr=dummy if scratch is None else scratch,
        spec_r_ptr=spectrum[0], spec_i_ptr=spectrum[1],
        skip_ptr=dummy if skip is None else skip,
        gate_in_ptr=dummy if gate_in is None else gate_in,
        gate_out_ptr=dummy if gate_out is None else gate_out,
        **{f"{name}_ptr": t for name, t in tables.items()},
        seq_len=seq_len, batch=batch, channels=channels,
        x_stride_b=x.stride(0), x_stride_c=x.stride(1),
        y_stride_b=y.stride(0), y_stride_c=y.stride(1),
        gi_stride_b=0 if gate_in is None else gate_in.stride(0),
        gi_stride_c=0 if gate_in is None else gate_in.stride(1),
        go_stride_b=0 if gate_out is None else gate_out.stride(0),
        go_stride_c=0 if gate_out is None else gate_out.stride(1),
        N1=s.n1, N2=s.n2, STAGE=STAGES[stage],
        HAS_SKIP=skip is not None, HAS_GATE_IN=gate_in is not None,
        HAS_GATE_OUT=gate_out is not None,
        PRECISION=precision(x.dtype),
    )  # fmt: skip
    if runs_interpreted(x.device):
        cfg = config or configs(s.n, x.dtype)[0]
        interpreted_kernel()[(triton.cdiv(rows, cfg.rows),)](**args, **cfg.constants())
    elif config is not None:
        compiled_kernel()[(triton.cdiv(rows, config.rows),)](**args, **config.as_dict())
    else:
        autotuned_kernel(s.n, x.dtype)[lambda meta: (triton.cdiv(rows, meta["ROWS"]),)](**args)


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


@dataclass(frozen=True)
class Traffic:
    """Global-memory bytes of one program in one launch, by the kernel's own account.

    ``minimum``: what the convolution cannot avoid, its rows' u and gates read once, y
    written once, and one channel's K̂ (its rows are one channel's when batch ≥ rows).
    ``loads``/``stores``: what its load and store instructions request, duplicate addresses
    included: the DFT tables, twiddles and K̂ per block of f1 (small, shared by every
    program: L1/L2 hits), the input once more per block where it streams, again for the
    skip, and the two-pass scratch. The ratio to the minimum says how much the design
    leans on the caches.
    """

    minimum: int
    loads: int
    stores: int


def traffic(
    s: Shape,
    config: KernelConfig,
    dtype: torch.dtype,
    seq_len: int,
    stage: str,
    gate_in: bool = True,
    gate_out: bool = True,
    skip: bool = True,
) -> Traffic:
    """Bytes one program with ``config.rows`` full rows moves in ``stage`` (see Traffic)."""
    e, f32 = torch.finfo(dtype).bits // 8, 4
    rows, half, wide = config.rows, s.n1 // 2, config.rows * s.n2
    blocks = s.n1 // config.block_f1
    row_bytes = rows * seq_len * e  # one (rows, L) stream
    loads = stores = 0
    if stage != "output":  # forward, filter, inverse rows: per block of f1
        loads += row_bytes * (1 + gate_in) * (1 if config.resident else blocks)  # A, gate
        per_block = (
            2 * config.block_f1 * half * e  # F_N1 tiles
            + 2 * config.block_f1 * wide * f32  # twiddles
            + 3 * s.n2 * s.n2 * e  # F_N2: real, imaginary, negated imaginary
            + 2 * config.block_f1 * wide * f32  # K̂
        )
        loads += blocks * per_block
        if stage == "fused":
            loads += blocks * 2 * half * config.block_f1 * e  # F̄_N1 for Y
        else:
            stores += 2 * s.n1 * wide * e  # E
    if stage != "spectrum":  # inverse columns (two-pass) and the epilogue
        out_blocks = 1 if stage == "fused" else half // config.block_t1
        if stage == "output":
            loads += 2 * half * s.n1 * e + out_blocks * 2 * s.n1 * wide * e  # F̄_N1 and E
        loads += row_bytes * (skip * (1 + gate_in) + gate_out) + skip * out_blocks * wide * f32
        stores += row_bytes
    minimum = row_bytes * (2 + gate_in + gate_out) + 8 * s.n
    return Traffic(minimum, loads, stores)


def launches(w: Workload, arch: int) -> list[Launch]:
    """The forward's launches on sm_<arch> as the predictor sees them: the first
    configuration's programs, its dot FLOPs, the least bytes it moves (u in, y out, K̂; two
    passes: E out and back in) and the programs an SM holds (RESIDENT_PROGRAMS)."""
    dtype = getattr(torch, w.dtype)
    s, e = shape(w.seq_len, dtype, arch), element_size(w)
    rows, stream = w.batch * w.d_model, input_bytes(w)
    config = configs(s.n, dtype)[0]
    programs = -(-rows // config.rows)
    columns, row_dfts = rows * 2 * s.n * s.n1, rows * 16 * s.n * s.n2  # one column pass
    spectrum, scratch = 8 * s.n * w.d_model, rows * 2 * s.n * e
    work = {
        "fused": (2 * columns + row_dfts, 2 * stream + spectrum),
        "spectrum": (columns + row_dfts, stream + spectrum + scratch),
        "output": (columns, scratch + 2 * stream),
    }
    resident = RESIDENT_PROGRAMS[90 if arch >= 90 else 80]
    return [Launch(stage, *work[stage], programs, resident[(s.n, stage)]) for stage in stages(s)]


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
    """u in and y out (a gate's read is the caller's), K̂ per channel; two passes: E out and in."""
    s = shape(w.seq_len, torch.float16)
    spectrum = 8 * s.n * w.d_model
    rows, e = w.batch * w.d_model, element_size(w)
    scratch = 0 if s.fused else rows * 2 * (2 * s.n * e)
    return {"long_conv": 2 * input_bytes(w) + spectrum + scratch}


def _memory(w: Workload) -> Memory:
    """The input and the filter's spectrum (the gates are the caller's streams), and the
    two-pass scratch buffer."""
    s, e = shape(w.seq_len, torch.float16), element_size(w)
    scratch = 0 if s.fused else min(SCRATCH_BYTES, w.batch * w.d_model * 2 * s.n * e)
    return Memory(input_bytes(w) + 8 * w.d_model * s.n + scratch)


@register(
    "longconv:triton",
    available=_available,
    max_seq_len=_max_seq_len,
    summary="Monarch FFT convolution in Triton (fp16/bf16 tl.dot DFTs, L ≤ 32768)",
    oracle="longconv:reference",
    interpreted=runs_interpreted,
    flop_terms=lambda w: triton_conv_terms(w.batch, w.d_model, w.seq_len),
    byte_terms=_bytes,
    memory=_memory,
    time_model=TimeModel(
        "fused_dft",
        kernels=3,
        launches=launches,
        note="longconv:triton: its launches' dot FLOPs at cuBLAS's fitted efficiency on the "
        "fp16 rate and its least bytes, in waves of resident programs; no GPU has timed this "
        "kernel yet, so this is a bound it has to earn",
    ),
    colour="#9467bd",  # purple
)
def triton_conv(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None) -> torch.Tensor:
    """The Monarch kernel without gates."""
    return gated_long_conv(u, k, D)


triton_conv.gated = gated_long_conv  # long_conv hands the gates to the kernel
