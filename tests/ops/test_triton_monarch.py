"""The Triton Monarch kernel in the Triton interpreter, against the float64 oracle.

These run the kernel's own code on CPU (numpy behind ``tl.dot``): they check what it computes,
never how fast. The compiled GPU code is checked in ``test_triton_aot.py``.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

from click.testing import CliRunner

from hyperf import registry
from hyperf.cli import main
from hyperf.ops import HyenaOperator, long_conv
from hyperf.ops.longconv import triton_monarch

# Relative error bounds, max|y − y_ref| / max|y_ref|, against the float64 oracle on the same
# inputs. fp32: tf32x3 dots in four DFT stages (observed ≤ 2e-7). fp16/bf16: the operands of
# every dot are rounded to the input dtype, four stages of it plus the output (unit roundoff
# fp16 4.9e-4, bf16 3.9e-3; observed ≤ 5e-4 and ≤ 1e-2); the sweep's correctness gate allows
# 2e-2 and 6e-2.
FWD_TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
GRAD_TOL_FP32 = 2e-5
LENGTHS = [16, 100, 1000, 4096]


def rel_error(y: torch.Tensor, y_ref: torch.Tensor) -> float:
    return ((y.double() - y_ref).abs().max() / y_ref.abs().max()).item()


def problem(batch: int, channels: int, seq_len: int, filter_len: int, dtype=torch.float32):
    """Fresh random inputs (no seed); gates around 1 like Hyena's projections."""
    u = torch.randn(batch, channels, seq_len)
    k = torch.randn(channels, filter_len) / filter_len**0.5
    D = torch.randn(channels)
    pre, post = torch.randn(2, batch, channels, seq_len)
    return [t.to(dtype) for t in (u, k, D, pre, post)]


def oracle(u, k, D, pre, post, backend="reference") -> torch.Tensor:
    """post ⊙ (k ∗ (pre ⊙ u) + D·(pre ⊙ u)) in float64: by direct convolution, or for long
    rows by torch.fft in float64 (an independent algorithm too, exact to ~1e-15)."""
    f64 = [None if t is None else t.double() for t in (u, k, D, pre, post)]
    u, k, D, pre, post = f64
    y = long_conv(u if pre is None else pre * u, k, D, backend=backend)
    return y if post is None else post * y


def check_forward_and_du(u, k, D, pre, post) -> None:
    """The gated kernel with skip, forward and du, against the float64 oracle on the same
    (rounded) inputs: direct convolution up to L = 4096, float64 torch.fft beyond."""
    seq_len, dtype = u.shape[-1], u.dtype
    u.requires_grad_()
    y = long_conv(u, k, D, backend="triton", pre=pre, post=post)
    grad = torch.randn_like(y)
    y.backward(grad)
    u_ref = u.detach().double().requires_grad_()
    y_ref = oracle(u_ref, k, D, pre, post, "reference" if seq_len <= 4096 else "fft")
    y_ref.backward(grad.double())
    assert y.dtype == u.grad.dtype == dtype
    assert rel_error(y, y_ref) <= FWD_TOL[dtype]
    assert rel_error(u.grad, u_ref.grad) <= 2 * FWD_TOL[dtype]


@pytest.mark.parametrize("seq_len", LENGTHS)
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("with_skip", [False, True])
def test_forward_matches_oracle(seq_len, gated, with_skip):
    u, k, D, pre, post = problem(2, 3, seq_len, seq_len)
    D = D if with_skip else None
    pre, post = (pre, post) if gated else (None, None)
    y = long_conv(u, k, D, backend="triton", pre=pre, post=post)
    assert y.shape == u.shape and y.dtype == u.dtype
    assert rel_error(y, oracle(u, k, D, pre, post)) <= FWD_TOL[torch.float32]


@pytest.mark.parametrize("seq_len", [100, 1000])
def test_short_filter_and_one_sided_gates(seq_len):
    u, k, D, pre, post = problem(3, 2, seq_len, seq_len // 7)
    for gates in ({"pre": pre}, {"post": post}):
        y = long_conv(u, k, D, backend="triton", **gates)
        y_ref = oracle(u, k, D, gates.get("pre"), gates.get("post"))
        assert rel_error(y, y_ref) <= FWD_TOL[torch.float32], gates.keys()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(dtype):
    u, k, D, pre, post = problem(2, 3, 300, 300, dtype)
    y = long_conv(u, k, D, backend="triton", pre=pre, post=post)
    assert y.dtype == dtype
    assert rel_error(y, oracle(u, k, D, pre, post)) <= FWD_TOL[dtype]


def test_strided_views_like_hyenas_projection():
    """u and the gates may be channel slices of one (B, 3C, L) tensor, as in the operator."""
    streams = torch.randn(2, 3 * 4, 200)
    x0, x1, v = streams.split(4, dim=1)
    _, k, D, _, _ = problem(2, 4, 200, 200)
    y = long_conv(v, k, D, backend="triton", pre=x1, post=x0)
    assert rel_error(y, oracle(v, k, D, x1, x0)) <= FWD_TOL[torch.float32]


@pytest.mark.parametrize("seq_len", [16, 100, 1000, 4096])
@pytest.mark.parametrize("gated", [False, True])
def test_gradients_match_oracle(seq_len, gated):
    u, k, D, pre, post = problem(2, 3, seq_len, seq_len)
    leaves = [u, k, D, pre, post] if gated else [u, k, D]
    grad_out = torch.randn_like(u)

    def grads(fn, dtype):
        xs = [t.detach().to(dtype).requires_grad_() for t in leaves]
        fn(*xs).backward(grad_out.to(dtype))
        return [x.grad for x in xs]

    def kernel(u, k, D, pre=None, post=None):
        return long_conv(u, k, D, backend="triton", pre=pre, post=post)

    def reference(u, k, D, pre=None, post=None):
        y = long_conv(u if pre is None else pre * u, k, D, backend="reference")
        return y if post is None else post * y

    names = ("u", "k", "D", "pre", "post")
    for name, g, g_ref in zip(
        names, grads(kernel, torch.float32), grads(reference, torch.float64), strict=False
    ):
        assert rel_error(g, g_ref) <= GRAD_TOL_FP32, f"d/d{name}"


def test_only_some_inputs_need_gradients():
    u, k, D, pre, post = problem(2, 3, 64, 64)
    u.requires_grad_()
    long_conv(u, k, D, backend="triton", pre=pre, post=post).sum().backward()
    u_ref = u.detach().double().requires_grad_()
    oracle(u_ref, k, D, pre, post).sum().backward()
    assert rel_error(u.grad, u_ref.grad) <= GRAD_TOL_FP32


@pytest.mark.parametrize("variant", ["safari", "paper"])
def test_hyena_operator_trains_with_the_kernel(variant):
    """HyenaOperator(longconv="triton") gives the fft operator's output and gradients."""
    op = HyenaOperator(8, 128, order=3, filter_order=8, variant=variant, longconv="fft")
    u = torch.randn(2, 100, 8)
    op(u).square().sum().backward()
    expected = {n: p.grad.clone() for n, p in op.named_parameters()}
    y_fft = op(u).detach()
    op.zero_grad()
    op.longconv = "triton"
    y = op(u)
    y.square().sum().backward()
    assert rel_error(y.detach(), y_fft.double()) <= 1e-5
    for name, p in op.named_parameters():
        assert rel_error(p.grad, expected[name].double()) <= 1e-4, name


def test_registry_says_interpreter_only_on_cpu():
    ok, reason = registry.check_available("longconv:triton", "cpu", torch.float32)
    assert ok and reason == "interpreter only: correctness, not speed"
    assert triton_monarch.runs_interpreted(torch.device("cpu"))
    ok, reason = registry.check_available("longconv:triton", "cpu", torch.float64)
    assert not ok and "float32, float16, bfloat16" in reason
    listing = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["list", "--device", "cpu"])
    line = next(row for row in listing.output.splitlines() if "longconv:triton" in row)
    assert "interpreter only: correctness, not speed" in line


def test_too_long_sequence_is_refused_with_the_limit():
    limit = triton_monarch.MAX_SEQ_LEN
    u, k = torch.randn(1, 1, limit + 1), torch.randn(1, limit + 1)
    with pytest.raises(ValueError, match=f"L ≤ {limit}.*'fft' or 'blocked'"):
        long_conv(u, k, backend="triton")


def test_fft_sizes_hold_the_linear_convolution():
    for seq_len in (1, 16, 256, 257, 1000, 8192):
        for arch in (None, 80, 90):
            s = triton_monarch.shape(seq_len, torch.bfloat16, arch)
            assert s.n >= 2 * seq_len and s.n1 * s.n2 == s.n and s.n1 // 2 >= 16 and s.n2 >= 16
    with pytest.raises(ValueError, match=r"L ≤ 2048 on sm_80 in torch\.float32"):
        triton_monarch.shape(4096, torch.float32, 80)


@pytest.mark.parametrize("arch", [None, 80])
def test_longest_sequence_on_each_architectures_shapes(arch):
    """L = 8192 (n = 16384) with sm_90's 256×64 and sm_80's 512×32 transform, gated."""
    from hyperf.ops.longconv.triton_monarch import filter_spectrum, launch, shape

    u, k, D, pre, post = problem(1, 2, 8192, 8192)
    s = shape(8192, torch.float16, arch)
    y = launch(u, s, filter_spectrum(k, s), D, pre, post)
    assert rel_error(y, oracle(u, k, D, pre, post)) <= FWD_TOL[torch.float32]


def test_flop_model_counts_the_dots_the_kernel_issues(monkeypatch):
    """Every tl.dot the interpreter executes, summed, equals the analytic matmul FLOPs."""
    from triton.runtime import interpreter

    from hyperf.ops.longconv.triton_monarch import triton_conv_terms

    issued = []
    real_dot = interpreter.interpreter_builder.create_dot

    def counting_dot(a, b, d, *args):
        (m, k), n = a.data.shape, b.data.shape[1]
        issued.append(2 * m * n * k)
        return real_dot(a, b, d, *args)

    monkeypatch.setattr(interpreter.interpreter_builder, "create_dot", counting_dot)
    for seq_len in (100, 1000, 8193):  # fused (8 and 2 rows a program) and two-pass
        issued.clear()
        u, k, D, _, _ = problem(2, 8, seq_len, seq_len)  # 16 rows: no program half empty
        long_conv(u, k, D, backend="triton")
        forward, _ = triton_conv_terms(2, 8, seq_len)
        assert sum(issued) == forward["monarch_matmul"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (sm_80 or newer)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("seq_len", [100, 1000, 2048, 16384])  # 16384: two passes
def test_compiled_kernel_on_cuda_matches_oracle(dtype, seq_len):
    """On a GPU runner: the autotuned kernel, forward and du, against the float64 oracle."""
    arch = triton_monarch.device_arch(torch.device("cuda"))
    if seq_len > triton_monarch.max_fft(arch, dtype) // 2:
        pytest.skip(f"{dtype} stops at L = {triton_monarch.max_fft(arch, dtype) // 2} on sm_{arch}")
    check_forward_and_du(*(t.cuda() for t in problem(4, 8, seq_len, seq_len, dtype)))


@pytest.mark.parametrize("seq_len", [1000, 8193])  # fused, two passes
def test_traffic_accounts_for_every_byte_the_kernel_moves(monkeypatch, seq_len):
    """triton_monarch.traffic, per program, against the loads and stores the interpreter
    executes (masked-in lanes × element size), summed over a gated launch with skip."""
    from triton.runtime import interpreter

    builder = interpreter.interpreter_builder
    moved = {"loads": 0, "stores": 0}
    load, store = builder.create_masked_load, builder.create_masked_store

    def counting_load(ptrs, mask, *args):
        size = interpreter._get_np_dtype(ptrs.get_element_ty()).itemsize
        moved["loads"] += int(mask.data.sum()) * size
        return load(ptrs, mask, *args)

    def counting_store(ptrs, value, mask, *args):
        moved["stores"] += int(mask.data.sum()) * value.data.itemsize
        return store(ptrs, value, mask, *args)

    monkeypatch.setattr(builder, "create_masked_load", counting_load)
    monkeypatch.setattr(builder, "create_masked_store", counting_store)
    dtype = torch.float16
    s = triton_monarch.shape(seq_len, dtype)
    config = triton_monarch.configs(s.n, dtype)[0]
    channels = 3
    u, k, D, pre, post = problem(config.rows, channels, seq_len, seq_len, dtype)
    triton_monarch.launch(u, s, triton_monarch.filter_spectrum(k, s), D, pre, post)
    expected = [
        triton_monarch.traffic(s, config, dtype, seq_len, stage)
        for stage in triton_monarch.stages(s)
    ]
    assert moved["loads"] == channels * sum(t.loads for t in expected)
    assert moved["stores"] == channels * sum(t.stores for t in expected)
    # The minimum: u, both gates and y once, and K̂; every design moves at least that.
    minimum = expected[0].minimum
    assert minimum == config.rows * seq_len * 2 * 4 + 8 * s.n
    assert sum(t.loads + t.stores for t in expected) > minimum


SHIPPED_LENGTHS = [n // 2 for n in triton_monarch.FACTORS]  # 256 … 32768: every FFT size


@pytest.mark.parametrize("dtype", triton_monarch.DTYPES, ids=str)
@pytest.mark.parametrize("seq_len", SHIPPED_LENGTHS)
def test_every_shipped_size_and_dtype_forward_and_du(seq_len, dtype):
    """Gated with skip, forward and du, against the float64 oracle on the same (rounded)
    inputs; fused up to L = 8192, two passes beyond. Half inputs: half-precision dots."""
    batch, channels = (2, 3) if seq_len <= 4096 else (1, 2)
    check_forward_and_du(*problem(batch, channels, seq_len, seq_len, dtype))


def test_two_pass_scratch_goes_in_channel_chunks(monkeypatch):
    """A scratch buffer smaller than all channels' E: the launch does channels a few at a
    time (strided views), with the same answer."""
    u, k, D, pre, post = problem(2, 5, 9000, 9000, torch.float16)
    s = triton_monarch.shape(9000, torch.float16)
    monkeypatch.setattr(triton_monarch, "SCRATCH_BYTES", 2 * 2 * 2 * s.n * 2)  # 2 channels
    assert triton_monarch.scratch_channels(s, 2, 5, torch.float16) == 2
    y = long_conv(u, k, D, backend="triton", pre=pre, post=post)
    assert rel_error(y, oracle(u, k, D, pre, post)) <= FWD_TOL[torch.float16]


def test_half_precision_stages_do_not_overflow_fp16():
    """A DC-heavy fp16 input at L = 32768 (every stage's coherent sum peaks): the unitary
    factors keep the intermediates far below fp16's 65504, so no inf or nan comes out."""
    seq_len = 32768
    u = (3.0 + 0.1 * torch.randn(1, 1, seq_len)).half()
    k = (torch.ones(1, seq_len) / seq_len).half()  # a running mean: y ≈ 3·t/L
    y = long_conv(u, k, backend="triton")
    assert torch.isfinite(y).all()
    assert rel_error(y, long_conv(u.double(), k.double(), backend="fft")) <= 2e-3


def test_hyenas_own_filters_in_fp16_at_the_longest_length():
    """The Hyena operator in fp16 at L = 32768 with its own implicit (decaying) filters, the
    long convolutions in the kernel's two-pass scheme: nothing overflows, and the output is
    within the sweep's fp16 gate (2e-2) of the float64 operator with torch.fft."""
    seq_len = 32768
    op = HyenaOperator(4, seq_len, order=2, filter_order=16, longconv="fft")
    u = torch.randn(1, seq_len, 4)
    with torch.no_grad():
        y_ref = op.double()(u.double())
        op = op.half()
        op.longconv = "triton"
        y = op(u.half())
    assert torch.isfinite(y).all()
    assert rel_error(y, y_ref) <= 2e-2
