"""FLOP and byte models, per term, and a counted cross-check.

Conventions (DESIGN.md, "Counting conventions"):
- a multiply-add is 2 FLOPs; a linear layer in→out costs 2·rows·in·out forward and twice
  that backward (grad of input and of weight);
- a real FFT of size n costs 2.5·n·log2 n, a complex one 5·n·log2 n; a complex product of
  two spectra costs 6 FLOPs per bin; the filter's FFT is paid once per channel;
- attention core (FlashAttention's convention): 4·B·H·L²·d forward, halved when causal
  (``Workload.causal``; a bidirectional core does all of it); backward 2.5× forward;
- elementwise terms (gating, skip, modulation, short-conv taps) count their multiplies and
  adds; transcendental functions (exp, sin, GELU, softmax) are not counted;
- the blocked backend reports its own matmul FLOPs (dense DFT blocks), not an FFT's.

Modes: ``infer`` and ``fwd`` count the forward; ``bwd`` the backward; ``fwd_bwd`` both.

The Hyena terms add up to the paper's Appendix A.2 accounting — projections, short
convolution, FFT convolution, output projection — plus what the paper leaves out (the
implicit filter's FFN, gating and skip terms), each reported under its own key.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from hyperf.ops.longconv.blocked import fft_size, monarch_factors
from hyperf.workload import MODES, Workload

Terms = dict[str, float]


class NoModelError(ValueError):
    """An operator (a plugin backend, say) the analytic models do not cover."""


def _fft(n: int) -> float:
    return 2.5 * n * math.log2(n) if n > 1 else 0.0


def fft_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """(forward, backward) FLOPs of the ``fft`` long convolution with its skip term."""
    n, bins, rows = 2 * seq_len, seq_len + 1, batch * channels
    forward = {
        "fft": rows * 2 * _fft(n) + channels * _fft(n),
        "spectral_product": 6 * rows * bins,
        "skip": 2 * rows * seq_len,
    }
    # du: rfft(g), product with conj(K), irfft; dk: product with conj(U), sum over the batch,
    # irfft once per channel; dD and the D·g term of du.
    backward = {
        "fft": rows * 2 * _fft(n) + channels * _fft(n),
        "spectral_product": 12 * rows * bins + 2 * (batch - 1) * channels * bins,
        "skip": 4 * rows * seq_len,
    }
    return forward, backward


def monarch_fft_flops(n: int, real_input: bool) -> tuple[float, float]:
    """(matmul, twiddle) FLOPs of ``blocked.monarch_fft`` on one length-n row.

    A stage of factor f does an f×f DFT on n/f columns: 2 real matmuls for real input, 4 for
    complex, i.e. 4·f·n or 8·f·n FLOPs; between stages, 6 FLOPs per element of twiddle (2 if
    the data are still real).
    """
    factors = monarch_factors(n)
    matmul = twiddle = 0.0
    real = real_input
    for index, factor in enumerate(factors):
        matmul += (4 if real else 8) * factor * n
        if index < len(factors) - 1:
            twiddle += (2 if real else 6) * n
        real = False
    return matmul, twiddle


def blocked_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """(forward, backward): transforms of k (per channel) and u, product, inverse, skip.

    The DFT matrices are constants, so the backward of each transform is one transposed
    transform: the backward costs what the forward's transforms did, plus two spectral
    products and the skip gradients.
    """
    n = fft_size(seq_len, seq_len)
    rows = batch * channels
    real_matmul, real_twiddle = monarch_fft_flops(n, True)
    complex_matmul, complex_twiddle = monarch_fft_flops(n, False)
    forward = {
        "monarch_matmul": (channels + rows) * real_matmul + rows * complex_matmul,
        "twiddle": (channels + rows) * real_twiddle + rows * complex_twiddle,
        "spectral_product": 6 * rows * n,
        "skip": 2 * rows * seq_len,
    }
    backward = {
        "monarch_matmul": forward["monarch_matmul"],
        "twiddle": forward["twiddle"],
        "spectral_product": 12 * rows * n,
        "skip": 4 * rows * seq_len,
    }
    return forward, backward


def triton_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """The fused Triton kernel (``triton_monarch``): dense DFT blocks on one row of n = N1·N2.

    Per row, with H = N1/2 nonzero input rows: column DFTs of the real input 2·(2·N1·H·N2) =
    2·n·N1; forward and inverse row DFTs, complex, 4·(2·N1·N2²) = 8·n·N2 each; inverse column
    DFTs to a real output 2·n·N1; so 4·n·N1 + 16·n·N2 matmul FLOPs. Two twiddles and the
    spectral product are 18·n; the filter's complex FFT is paid once per channel. The backward
    runs the kernel again for du (same cost) and torch FFTs for dk.
    """
    from hyperf.ops.longconv.triton_monarch import shape

    s = shape(seq_len, torch.float16)  # sm_90's (and the interpreter's) transform
    n, n1, n2 = s.n, s.n1, s.n2
    rows, bins = batch * channels, seq_len + 1
    forward = {
        "monarch_matmul": rows * (4 * n * n1 + 16 * n * n2),
        "twiddle": rows * 12 * n,
        "spectral_product": rows * 6 * n,
        "fft": channels * 2 * _fft(n),  # complex FFT of each filter
        "skip": 2 * rows * seq_len,
    }
    backward = {
        "monarch_matmul": forward["monarch_matmul"],
        "twiddle": forward["twiddle"],
        "spectral_product": forward["spectral_product"] + 6 * rows * bins,
        "fft": 2 * rows * _fft(2 * seq_len) + channels * _fft(2 * seq_len),  # dk
        "skip": 4 * rows * seq_len,
    }
    return forward, backward


def reference_conv_terms(batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    """Direct causal convolution: output t sums t+1 products (the causal triangle)."""
    macs = batch * channels * seq_len * (seq_len + 1) / 2
    forward = {"direct_conv": 2 * macs, "skip": 2 * batch * channels * seq_len}
    return forward, {k: 2 * v for k, v in forward.items()}


def long_conv_terms(backend: str, batch: int, channels: int, seq_len: int) -> tuple[Terms, Terms]:
    if backend == "fft":
        return fft_conv_terms(batch, channels, seq_len)
    if backend == "blocked":
        return blocked_conv_terms(batch, channels, seq_len)
    if backend == "triton":
        return triton_conv_terms(batch, channels, seq_len)
    if backend == "reference":
        return reference_conv_terms(batch, channels, seq_len)
    raise NoModelError(f"no FLOP model for long-conv backend {backend!r}")


def _linear(rows: int, fan_in: int, fan_out: int) -> tuple[float, float]:
    forward = 2.0 * rows * fan_in * fan_out
    return forward, 2 * forward


def _add(terms: dict, key: str, value: float) -> None:
    terms[key] = terms.get(key, 0.0) + value


def hyena_terms(w: Workload) -> tuple[Terms, Terms]:
    """Forward and backward terms of one HyenaOperator."""
    rows, d, seq_len, n = w.batch * w.seq_len, w.d_model, w.seq_len, w.order
    convs = n - 1 if w.variant == "safari" else n
    filter_channels = d * convs
    fwd: Terms = {}
    bwd: Terms = {}
    for key, (f, b) in {
        "in_proj": _linear(rows, d, (n + 1) * d),
        "out_proj": _linear(rows, d, d),
    }.items():
        fwd[key], bwd[key] = f, b
    fwd["short_conv"] = 2.0 * 3 * rows * (n + 1) * d + rows * (n + 1) * d  # 3 taps + bias
    bwd["short_conv"] = 2 * fwd["short_conv"]
    width, emb = w.filter_order, w.emb_dim
    ffn = 2.0 * seq_len * (emb * width + 2 * width * width + width * filter_channels)
    fwd["filter_ffn"], bwd["filter_ffn"] = ffn, 2 * ffn
    fwd["filter_modulation"] = 2.0 * seq_len * filter_channels if w.modulate else 0.0
    bwd["filter_modulation"] = fwd["filter_modulation"]
    fwd["gating"], bwd["gating"] = float(n * rows * d), 2.0 * n * rows * d
    backend = w.op.split(":", 1)[1]
    conv_fwd, conv_bwd = long_conv_terms(backend, w.batch, d, seq_len)
    for key, value in conv_fwd.items():
        _add(fwd, key, convs * value)
    for key, value in conv_bwd.items():
        _add(bwd, key, convs * value)
    return fwd, bwd


def attention_terms(w: Workload) -> tuple[Terms, Terms]:
    rows, d = w.batch * w.seq_len, w.d_model
    fwd: Terms = {}
    bwd: Terms = {}
    for key, (f, b) in {"wqkv": _linear(rows, d, 3 * d), "out_proj": _linear(rows, d, d)}.items():
        fwd[key], bwd[key] = f, b
    core = 4.0 * w.batch * w.seq_len**2 * d  # Σ over heads of 4·L²·d_head
    if w.causal:
        core /= 2  # FlashAttention's convention: the masked half is not counted
    fwd["attention_core"], bwd["attention_core"] = core, 2.5 * core
    return fwd, bwd


def block_terms(rows: int, d: int) -> tuple[Terms, Terms]:
    """The MLP (D → 4D → D) and two LayerNorms of one residual block (mixer excluded)."""
    up, down = _linear(rows, d, 4 * d), _linear(rows, 4 * d, d)
    norms = 2 * 5.0 * rows * d  # mean, variance, normalise, scale, shift per element
    return (
        {"mlp": up[0] + down[0], "norm": norms, "residual": 2.0 * rows * d},
        {"mlp": up[1] + down[1], "norm": 2 * norms, "residual": 0.0},
    )


def forward_backward_terms(w: Workload) -> tuple[Terms, Terms]:
    family = w.family
    if family == "longconv":
        return long_conv_terms(w.op.split(":", 1)[1], w.batch, w.d_model, w.seq_len)
    fwd, bwd = hyena_terms(w) if family == "hyena" else attention_terms(w)
    if w.depth:
        fwd = {k: w.depth * v for k, v in fwd.items()}
        bwd = {k: w.depth * v for k, v in bwd.items()}
        block_fwd, block_bwd = block_terms(w.batch * w.seq_len, w.d_model)
        for key in block_fwd:
            fwd[key] = w.depth * block_fwd[key]
            bwd[key] = w.depth * block_bwd[key]
        fwd["norm"] += 5.0 * w.batch * w.seq_len * w.d_model  # the final LayerNorm
        bwd["norm"] += 10.0 * w.batch * w.seq_len * w.d_model
    return fwd, bwd


def analytic_flops(workload: Workload, mode: str) -> Terms:
    """FLOPs per term for ``mode``, plus "total"."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    fwd, bwd = forward_backward_terms(workload)
    if mode in ("infer", "fwd"):
        terms = dict(fwd)
    elif mode == "bwd":
        terms = dict(bwd)
    else:
        terms = {k: fwd.get(k, 0.0) + bwd.get(k, 0.0) for k in fwd.keys() | bwd.keys()}
    terms["total"] = sum(terms.values())
    return terms


# --- counted FLOPs ------------------------------------------------------------------------

aten = torch.ops.aten


def _fft_formula(complex_input: bool, size_from_output: bool) -> Callable[..., int]:
    def formula(self_shape, dim, *args, out_shape=None, **kwargs) -> int:
        sizes = out_shape if size_from_output else self_shape
        transform = [sizes[d] for d in dim]
        per = (
            (5.0 if complex_input else 2.5)
            * math.prod(transform)
            * math.log2(max(2, math.prod(transform)))
        )
        return int(per * math.prod(self_shape) / math.prod(self_shape[d] for d in dim))

    return formula


def _cpu_flash_formula(query_shape, key_shape, value_shape, *args, out_shape=None, **kw):
    return sdpa_flop_count(query_shape, key_shape, value_shape)


FFT_FORMULAS = {
    aten._fft_r2c: _fft_formula(complex_input=False, size_from_output=False),
    aten._fft_c2r: _fft_formula(complex_input=False, size_from_output=True),
    aten._fft_c2c: _fft_formula(complex_input=True, size_from_output=False),
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_formula,
}
CATEGORIES = {
    "mm": "matmul",
    "addmm": "matmul",
    "bmm": "matmul",
    "baddbmm": "matmul",
    "_fft_r2c": "fft",
    "_fft_c2r": "fft",
    "_fft_c2c": "fft",
    "convolution": "conv",
    "_convolution": "conv",
}


def counted_flops(workload: Workload, mode: str, device: str | torch.device = "cpu") -> Terms:
    """FLOPs counted by ``FlopCounterMode`` (with FFT formulas registered), by category.

    The counter sees matmuls, convolutions, SDPA and (with our formulas) FFTs; it does not see
    elementwise ops, and it counts attention without the causal halving (so for causal
    attention its core is twice the analytic one; for bidirectional, equal). It runs the workload
    once on ``device``: a sweep passes the point's own device, since a CUDA point run on the
    CPU (fp16 GEMMs, the Triton interpreter) takes minutes where the GPU takes milliseconds.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    needs_grad = mode in ("bwd", "fwd_bwd")
    module, u = workload.instantiate(device, requires_grad=needs_grad)
    with torch.set_grad_enabled(mode != "infer"):
        out = module(u) if mode == "bwd" else None
        with FlopCounterMode(display=False, custom_mapping=FFT_FORMULAS) as counter:
            if mode == "fwd_bwd":
                out = module(u)
            if needs_grad:
                out.backward(torch.ones_like(out))
            else:
                module(u)
    totals: Terms = defaultdict(float)
    for op, count in counter.get_flop_counts().get("Global", {}).items():
        name = getattr(op, "__name__", str(op)).split(".")[0]
        totals[CATEGORIES.get(name, "attention" if "attention" in name else name)] += count
    result = dict(totals)
    result["total"] = sum(totals.values())
    return result


def analytic_bytes(workload: Workload, mode: str) -> Terms:
    """Bytes the passes must move at the least (read inputs + write outputs once each).

    Matmul operands and results, the short conv, gating and skip passes in the workload's
    dtype; FFT intermediates in float32 (complex64 spectra, 8 bytes a bin). Backward passes
    move about twice what their forward did.

    Attention's bytes do not depend on ``causal``: a fused core reads q, k, v and writes the
    output once either way, and the eager ones (naive, SDPA math) write and read the full
    L×L scores either way — the causal mask's own pass is an elementwise pass that this
    least-traffic count leaves out, like the 1/√d scaling.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    elem = torch.tensor([], dtype=workload.torch_dtype).element_size()
    b, seq, d = workload.batch, workload.seq_len, workload.d_model
    plane = b * seq * d
    terms: Terms = {}
    if workload.family in ("hyena", "longconv"):
        n = workload.order
        convs = (
            1 if workload.family == "longconv" else (n - 1 if workload.variant == "safari" else n)
        )
        if workload.op.endswith(":triton"):  # fused: u and a gate in, y out, K̂ per channel
            from hyperf.ops.longconv.triton_monarch import fft_size as triton_fft_size

            gate = elem * plane if workload.family == "hyena" else 0
            spectrum = 8 * triton_fft_size(seq) * d
            terms["long_conv"] = convs * (elem * plane * 2 + gate + spectrum)
        else:
            spectra = 8 * (seq + 1) * (b * d * 3 + d)  # U, product, K (complex64), per conv
            terms["long_conv"] = convs * (4 * 2 * plane * 2 + spectra + elem * plane * 2)
        if workload.family == "hyena":
            terms["projections"] = elem * (plane + (n + 1) * plane + 2 * plane) + elem * (
                (n + 1) * d * d + d * d
            )
            terms["short_conv"] = elem * 2 * (n + 1) * plane
            # Gate products go through memory, unless the kernel fuses them (read counted
            # above); the safari variant's last product is always separate.
            fused = workload.op.endswith(":triton")
            gated_passes = (1 if workload.variant == "safari" else 0) if fused else n
            terms["gating"] = elem * 3 * gated_passes * plane
            terms["filter"] = 4 * seq * d * convs
    else:
        terms["projections"] = elem * (plane + 3 * plane + 2 * plane + 4 * d * d)
        terms["attention_core"] = elem * 4 * plane  # flash-style: read q, k, v; write out
        if workload.op.endswith(("naive", "math")):  # the L×L scores go through memory
            heads = workload.n_heads or max(1, d // 64)
            terms["attention_core"] += 4 * elem * b * heads * seq * seq  # 2 writes, 2 reads
    if workload.depth:
        terms = {k: workload.depth * v for k, v in terms.items()}
        terms["mlp_norms"] = workload.depth * elem * (2 * plane + 8 * plane + 8 * d * d + 4 * plane)
    factor = {"infer": 1, "fwd": 1, "bwd": 2, "fwd_bwd": 3}[mode]
    terms = {k: factor * v for k, v in terms.items()}
    terms["total"] = sum(terms.values())
    return terms
