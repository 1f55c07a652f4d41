"""GPU time model parts calibrated on published measurements, each checked on held-out points.

``hyperf.analysis.predict`` composes these parts into a whole-workload prediction (a datasheet
roofline was 5× optimistic on hyperf's own H100 runs). This module fits three small parts to
other people's published timings (``hyperf/data/published``, see its README for sources) and reports
how well each predicts points it was not fitted on:

1. GEMM (H100, bf16, XLA's table):       t = 2·b·M·N·K / (P·e(s)) + t0,
   e(s) = e_max · s / (s + s_half),  s = 3 / (1/(b·M) + 1/N + 1/K)  (harmonic mean of the sizes).
   Small or thin problems fill few tiles and are dominated by operand traffic; the harmonic
   mean is what that traffic depends on (2·MNK·(1/M + 1/N + 1/K) = 2·(NK + MK + MN)).
2. Attention core (A100, fp16, FA2 paper): t = F_FA / (P·e) + t0,
   e = e_impl · h_impl^[d=128] · c_impl^[causal] · L / (L + L_half[causal]),
   F_FA = 3.5 · 4·B·H·L²·d (halved when causal): FlashAttention's convention.
   The per-implementation factors are scale, head-dim and causal factors; the L-shape
   (L_half for causal and non-causal) and the floor t0 are shared.
   cuDNN (H100, fp16, forward, FA3 paper): the same form at the H100's dense fp16 peak, its
   factors and its own floor t0_cudnn fitted on its forward points (a forward is 1/3.5 of
   F_FA), the L-shape taken from the A100 fit.
   Eager attention on another device (H100, FA2 and FA3 papers): the A100 time scaled by
   s · W_A100/W + (1 − s) · G_A100/G (bandwidth share s, the rest GEMM-bound at the achievable
   matmul rate G), its forward a fitted share of the step (one for causal, one not).
3. PyTorch FFT convolution (H100, FlashFFTConv's baseline): t = B·H·n·β(n) / W(n) + t0,
   β(n) = β_elem + β_fft · log2(n)/λ   (bytes per element; λ = butterfly levels per memory pass),
   W(n) = W_max · n / (n + n_half).
   β_elem = 44 B and β_fft = 32 B are counted, not fitted (see ``FFT_BYTES_*``).

Every fit is least squares on log time (relative errors weigh the same at 1 µs and 1 s).
Parameters are fitted in log space so they stay positive. Nothing here is fitted on hyperf's
own measurements: ``hyperf.analysis.validation`` uses those only as an independent check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from io import StringIO

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import least_squares

H100_BF16_PEAK = 989.4e12  # FLOP/s, dense, NVIDIA H100 SXM5 datasheet
A100_FP16_PEAK = 312e12  # FLOP/s, dense, NVIDIA A100 datasheet
H100_BANDWIDTH = 3.35e12  # bytes/s, H100 SXM5 datasheet (reference for the fitted W_max)

# Bytes per element of B·H·n, PyTorch gated FFT convolution (an assumption from the baseline's
# description): pre-gate u·g (read 2+2, write 2), u.float() (2+4), spectral product (8+8),
# .real and cast to fp16 (8+2), post-gate (2+2+2): 44 B; each fft/ifft memory pass reads and
# writes complex fp32 (8+8), two transforms: 32 B per pass.
FFT_BYTES_ELEMENTWISE = 44.0
FFT_BYTES_PER_PASS = 32.0
FFT_BATCH, FFT_CHANNELS = 64, 768

A100_IMPLEMENTATIONS = ("FA2", "FA1", "FA-triton", "xformers", "pytorch")  # the FA2 paper's grid
DEVICE_TEXT_FIELDS = ("arch", "source", "gemm_source")  # the device table's text columns
IMPLEMENTATIONS = (*A100_IMPLEMENTATIONS, "cudnn")  # cuDNN: the FA3 paper's H100 forward only
FA_FWD_SHARE = 1 / 3.5  # FlashAttention's FLOP split of a step: forward 1, backward 2.5
H100_SOURCES = {  # published H100 attention timings: file → pass
    "attention_h100_fa3_benchmark.csv": "fwd",
    "attention_h100_fa2_benchmark.csv": "fwd+bwd",
}
Params = dict[str, float]


# ---------------------------------------------------------------- data


@cache
def published_table(name: str) -> pd.DataFrame:
    """One CSV of ``hyperf/data/published`` (its ``#`` lines are the source), read once."""
    text = resources.files("hyperf.data").joinpath("published", name).read_text()
    return pd.read_csv(StringIO(text), comment="#")


def load_gemm() -> pd.DataFrame:
    """XLA's H100 bf16 matmul table with the implied time (s) of each shape."""
    g = published_table("gemm_h100_bf16_xla.csv").copy()
    g["seconds"] = gemm_flops(g.b, g.m, g.n, g.k) / (g.bf16_tflops * 1e12)
    return g


def load_attention() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mapped rows with time in s, unmapped rows with the reason)."""
    a = published_table("attention_a100_fa2_benchmark.csv").copy()
    oom = a.tflops.astype(str) == "OOM"
    unmapped = a[oom].assign(reason="out of memory in the published run: no time")
    mapped = a[~oom].copy()
    mapped["tflops"] = mapped.tflops.astype(float)
    mapped["causal"] = mapped["mask"] == "causal"
    flops = attention_flops(mapped.batch, mapped.nheads, mapped.seqlen, mapped.headdim)
    mapped["seconds"] = flops / np.where(mapped.causal, 2.0, 1.0) / (mapped.tflops * 1e12)
    return mapped.reset_index(drop=True), unmapped.reset_index(drop=True)


H100_UNMAPPED_IMPL = {
    "triton": "the FA3 paper's Triton FlashAttention-2 with H100-specific instructions: not the "
    "FA2 paper's Triton kernel (FA-triton) nor a hyperf backend",
}


def load_attention_h100() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The FA2 and FA3 papers' H100 points: (mapped rows with ``source``, ``pass`` and time
    in s, unmapped rows with the reason). Never used by ``fit_attention``."""
    frames = []
    for name, passes in H100_SOURCES.items():
        raw = published_table(name).copy()
        if set(raw["pass"]) != {passes}:
            raise ValueError(f"{name}: expected only {passes!r} rows, got {set(raw['pass'])}")
        frames.append(raw.assign(source=name.removesuffix("_benchmark.csv")))
    a = pd.concat(frames, ignore_index=True)
    oom = a.tflops.astype(str) == "OOM"
    other = a.impl.isin(list(H100_UNMAPPED_IMPL))
    unmapped = pd.concat(
        [
            a[oom].assign(reason="out of memory in the published run: no time"),
            a[other & ~oom].assign(reason=a.impl[other & ~oom].map(H100_UNMAPPED_IMPL)),
        ]
    )
    mapped = a[~oom & ~other].copy()
    mapped["tflops"] = mapped.tflops.astype(float)
    mapped["causal"] = mapped["mask"] == "causal"
    flops = attention_flops(mapped.batch, mapped.nheads, mapped.seqlen, mapped.headdim)
    flops = flops * np.where(mapped["pass"] == "fwd", FA_FWD_SHARE, 1.0)
    mapped["seconds"] = flops / np.where(mapped.causal, 2.0, 1.0) / (mapped.tflops * 1e12)
    return mapped.reset_index(drop=True), unmapped.reset_index(drop=True)


def load_fft() -> pd.DataFrame:
    """FlashFFTConv's Table 3; the PyTorch column is the one modelled here (time in s)."""
    f = published_table("flashfftconv_h100.csv").copy()
    f["seconds"] = f.pytorch_ms / 1e3
    return f


# ---------------------------------------------------------------- part 1: GEMM


def _positive(name: str, *values) -> None:
    for v in values:
        if np.any(np.asarray(v, dtype=float) <= 0):
            raise ValueError(f"{name} must be positive, got {v!r}")


def gemm_flops(b, m, n, k):
    return 2.0 * b * m * n * k


def gemm_time(params: Params, m, n, k, b=1, peak: float = H100_BF16_PEAK):
    """t = 2bMNK / (P · e_max · s/(s + s_half)) + t0, s = harmonic mean of (bM, N, K)."""
    _positive("m, n, k and b", m, n, k, b)
    s = 3.0 / (1.0 / (np.asarray(b) * m) + 1.0 / np.asarray(n) + 1.0 / np.asarray(k))
    eff = params["e_max"] * s / (s + params["s_half"])
    return gemm_flops(b, m, n, k) / (peak * eff) + params["t0"]


GEMM_NAMES = ("e_max", "s_half", "t0")
GEMM_START = (0.8, 300.0, 5e-6)


def fit_gemm(data: pd.DataFrame) -> Params:
    return _fit(
        GEMM_NAMES,
        GEMM_START,
        lambda p: gemm_time(p, data.m.values, data.n.values, data.k.values, data.b.values),
        data.seconds.values,
    )


def _fit(names, start, model: Callable[[Params], np.ndarray], seconds: np.ndarray) -> Params:
    """Least squares in log time over log-parameters (keeps every parameter positive)."""

    def residual(x: np.ndarray) -> np.ndarray:
        return np.log(model(dict(zip(names, np.exp(x), strict=True)))) - np.log(seconds)

    x = least_squares(residual, np.log(start), method="trf").x
    return dict(zip(names, np.exp(x).tolist(), strict=True))


def gemm_folds(data: pd.DataFrame, folds: int = 5) -> np.ndarray:
    """Fold of each row: shapes (m, n, k) dealt round-robin; a shape's batches stay together."""
    shapes = data[["m", "n", "k"]].apply(tuple, axis=1)
    order = {s: i for i, s in enumerate(sorted(set(shapes)))}
    return np.array([order[s] % folds for s in shapes])


# ---------------------------------------------------------------- part 2: attention core


def attention_flops(b, h, seq_len, head_dim, causal=False):
    """FlashAttention's count, forward + backward: 3.5 · 4·B·H·L²·d, halved when causal."""
    return (
        3.5
        * 4.0
        * b
        * h
        * np.asarray(seq_len, dtype=float) ** 2
        * head_dim
        / (np.where(causal, 2.0, 1.0))
    )


def attention_time(params: Params, impl: str, b, h, seq_len, head_dim, causal, peak=A100_FP16_PEAK):
    """t = F_FA / (P · e_impl · h_impl^[d=128] · c_impl^[causal] · L/(L + L_half)) + t0
    (``t0_IMPL`` where the implementation has its own floor)."""
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl: unknown implementation {impl!r}; known: {IMPLEMENTATIONS}")
    _positive("b, h, seq_len and head_dim", b, h, seq_len, head_dim)
    seq = np.asarray(seq_len, dtype=float)
    causal = np.asarray(causal, dtype=bool)
    half = np.where(causal, params["L_half_causal"], params["L_half"])
    eff = (
        params[f"e_{impl}"]
        * np.where(np.asarray(head_dim) >= 128, params[f"hd128_{impl}"], 1.0)
        * np.where(causal, params[f"causal_{impl}"], 1.0)
        * seq
        / (seq + half)
    )
    t0 = params.get(f"t0_{impl}", params["t0"])
    return attention_flops(b, h, seq, head_dim, causal) / (peak * eff) + t0


SHARED_ATTENTION = {"L_half": 300.0, "L_half_causal": 800.0, "t0": 50e-6}


def _impl_start(impls) -> dict[str, float]:
    start = {}
    for i in impls:
        start |= {f"e_{i}": 0.4, f"hd128_{i}": 1.0, f"causal_{i}": 0.8}
    return start


def _attention_model(data: pd.DataFrame, fixed: Params) -> Callable[[Params], np.ndarray]:
    # Each implementation's rows as arrays, once: the fit calls the model hundreds of times,
    # and indexing the frame in each call made it take a second.
    groups = [
        (
            impl,
            data.index.get_indexer(rows),
            [data.loc[rows, c].values for c in ("batch", "nheads", "seqlen", "headdim", "causal")],
        )
        for impl, rows in data.groupby("impl").groups.items()
    ]

    def model(p: Params) -> np.ndarray:
        p = fixed | p
        out = np.empty(len(data))
        for impl, where, columns in groups:
            out[where] = attention_time(p, impl, *columns)
        return out

    return model


def fit_attention(data: pd.DataFrame, fixed: Params | None = None) -> Params:
    """All parameters not in ``fixed``, fitted on ``data`` (every implementation it holds)."""
    fixed = fixed or {}
    start = SHARED_ATTENTION | _impl_start(data.impl.unique())
    start = {k: v for k, v in start.items() if k not in fixed}
    fitted = _fit(
        tuple(start), tuple(start.values()), _attention_model(data, fixed), data.seconds.values
    )
    return fixed | fitted


# cuDNN: its forward on the H100 (FA3 paper), t_fwd = FA_FWD_SHARE · attention_time at the
# H100's dense fp16 peak (it runs wgmma), its own floor; L_half from the A100 fit.
CUDNN_NAMES = ("e_cudnn", "hd128_cudnn", "causal_cudnn", "t0_cudnn")
CUDNN_START = (0.4, 1.0, 0.8, 50e-6)


def _forward_model(rows: pd.DataFrame, impl: str, fixed: Params):
    columns = [rows[c].values for c in ("batch", "nheads", "seqlen", "headdim", "causal")]
    peak = H100_BF16_PEAK
    return lambda p: FA_FWD_SHARE * attention_time(fixed | p, impl, *columns, peak=peak)


def fit_cudnn(rows: pd.DataFrame, attention: Params) -> Params:
    """cuDNN's factors and floor from its forward rows; the rest of ``attention`` kept."""
    if set(rows["pass"]) != {"fwd"} or set(rows.impl) != {"cudnn"}:
        raise ValueError("fit_cudnn: cuDNN forward rows only")
    shared = {k: attention[k] for k in SHARED_ATTENTION}
    model = _forward_model(rows, "cudnn", shared)
    return _fit(CUDNN_NAMES, CUDNN_START, model, rows.seconds.values)


# Eager attention on a device other than the A100 of the fit, and its forward share.
EAGER_NAMES = ("bandwidth_share", "fwd_share", "fwd_share_causal")
EAGER_START = (0.8, 0.3, 0.4)


def eager_device_scale(eager: Params, bandwidth_ratio, gemm_ratio):
    """A100 time → the device's: s · W_A100/W + (1 − s) · G_A100/G (s capped at 1)."""
    s = min(eager["bandwidth_share"], 1.0)
    return s * bandwidth_ratio + (1 - s) * gemm_ratio


def eager_mode_share(eager: Params, causal, mode: str):
    """The share of an eager step (forward + backward) that ``mode`` takes."""
    fwd = np.where(np.asarray(causal, dtype=bool), eager["fwd_share_causal"], eager["fwd_share"])
    return {"fwd": fwd, "bwd": 1 - fwd, "fwd_bwd": np.ones_like(fwd)}[mode]


@cache
def devices() -> dict[str, dict]:
    """The device table (``hyperf/data/devices.yaml``), numbers as floats (YAML reads
    ``312e+12`` as a string)."""
    table = yaml.safe_load(resources.files("hyperf.data").joinpath("devices.yaml").read_text())
    return {
        name: {k: v if k in DEVICE_TEXT_FIELDS else float(v) for k, v in spec.items()}
        for name, spec in table.items()
    }


def device_ratios(gpu: str = "H100-SXM") -> tuple[float, float]:
    """(W_A100 / W, G_A100 / G) for ``gpu`` from the device table (A100 80GB: the fit's)."""
    a100, spec = devices()["A100-80GB"], devices()[gpu]
    return (
        a100["memory_bandwidth"] / spec["memory_bandwidth"],
        a100["gemm_achievable"] / spec["gemm_achievable"],
    )


def eager_time(attention: Params, eager: Params, rows: pd.DataFrame, gpu: str = "H100-SXM"):
    """Eager attention on ``gpu`` for published rows (their ``pass``): seconds."""
    columns = [rows[c].values for c in ("batch", "nheads", "seqlen", "headdim", "causal")]
    base = attention_time(attention, "pytorch", *columns)
    share = np.where(
        rows["pass"].values == "fwd", eager_mode_share(eager, rows.causal.values, "fwd"), 1.0
    )
    return base * eager_device_scale(eager, *device_ratios(gpu)) * share


def fit_eager(rows: pd.DataFrame, attention: Params) -> Params:
    """Device scaling and forward shares from H100 eager rows; ``attention`` (the A100 fit) kept."""
    if set(rows.impl) != {"pytorch"}:
        raise ValueError("fit_eager: eager (pytorch) rows only")
    rows = rows.reset_index(drop=True)
    return _fit(
        EAGER_NAMES, EAGER_START, lambda p: eager_time(attention, p, rows), rows.seconds.values
    )


# ---------------------------------------------------------------- part 3: FFT convolution


def fft_bytes(n, batch: int = FFT_BATCH, channels: int = FFT_CHANNELS, levels: float = 12.0):
    """B·H·n·(44 + 32·log2(n)/λ): elementwise passes plus fft/ifft passes over memory."""
    _positive("n", n)
    n = np.asarray(n, dtype=float)
    return batch * channels * n * (FFT_BYTES_ELEMENTWISE + FFT_BYTES_PER_PASS * np.log2(n) / levels)


def achieved_bandwidth(params: Params, n):
    """W(n) = W_max · n/(n + n_half): short rows leave the memory system idle between launches."""
    n = np.asarray(n, dtype=float)
    return params["W_max"] * n / (n + params["n_half"])


def fft_conv_time(params: Params, n, batch: int = FFT_BATCH, channels: int = FFT_CHANNELS):
    """t = bytes(n) / W(n) + t0; ∝ n·log n once W has saturated."""
    moved = fft_bytes(n, batch, channels, params["levels"])
    return moved / achieved_bandwidth(params, n) + params["t0"]


FFT_NAMES = ("W_max", "n_half", "levels", "t0")
FFT_START = (2e12, 64.0, 12.0, 20e-6)


def fft_split(data: pd.DataFrame) -> np.ndarray:
    """Held out: every other length (1K, 8K, 32K, 2M); fitted on 256, 4K, 16K, 1M, 4M."""
    return np.arange(len(data)) % 2 == 1


def fit_fft(data: pd.DataFrame) -> Params:
    return _fit(FFT_NAMES, FFT_START, lambda p: fft_conv_time(p, data.seqlen.values), data.seconds)


# ---------------------------------------------------------------- validation


def _rows(source, config, published_s, predicted_s, held_out, scheme) -> pd.DataFrame:
    published_ms, predicted_ms = np.asarray(published_s) * 1e3, np.asarray(predicted_s) * 1e3
    return pd.DataFrame(
        {
            "source": source,
            "configuration": list(config),
            "published_ms": published_ms,
            "predicted_ms": predicted_ms,
            "error_pct": (predicted_ms / published_ms - 1) * 100,
            "held_out": held_out,
            "scheme": scheme,
        }
    )


def _gemm_rows() -> list[pd.DataFrame]:
    g = load_gemm()
    config = [f"b{b} {m}x{n}x{k}" for b, m, n, k in zip(g.b, g.m, g.n, g.k, strict=True)]

    def predict(p: Params, rows: pd.DataFrame) -> np.ndarray:
        return gemm_time(p, rows.m.values, rows.n.values, rows.k.values, rows.b.values)

    everything = predict(fit_gemm(g), g)
    held = np.empty(len(g))
    folds = gemm_folds(g)
    for fold in np.unique(folds):
        test = folds == fold
        held[test] = predict(fit_gemm(g[~test]), g[test])
    return [
        _rows("gemm_h100_bf16_xla", config, g.seconds, everything, False, "in-sample"),
        _rows("gemm_h100_bf16_xla", config, g.seconds, held, True, "5-fold by shape"),
    ]


def _attention_config(a: pd.DataFrame) -> list[str]:
    return [
        f"{i} {m} hd{d} L{L}"
        for i, m, d, L in zip(a.impl, a["mask"], a.headdim, a.seqlen, strict=True)
    ]


ATTENTION_LONG = 8192  # the L hold-out: fit on L ≤ 4K, predict 8K and 16K
ATTENTION_REFERENCE_L = 2048  # the implementation hold-out: its factors from this length only


def _attention_rows() -> list[pd.DataFrame]:
    a, _ = load_attention()
    source = "attention_a100_fa2"
    model_all = _attention_model(a, {})
    rows = [
        _rows(
            source, _attention_config(a), a.seconds, model_all(fit_attention(a)), False, "in-sample"
        )
    ]
    long = a.seqlen >= ATTENTION_LONG
    short_fit = fit_attention(a[~long].reset_index(drop=True))
    test = a[long].reset_index(drop=True)
    rows.append(
        _rows(
            source,
            _attention_config(test),
            test.seconds,
            _attention_model(test, {})(short_fit),
            True,
            "L<=4K -> 8K-16K",
        )
    )
    for impl in A100_IMPLEMENTATIONS:
        others = a[a.impl != impl].reset_index(drop=True)
        shared = {k: v for k, v in fit_attention(others).items() if k in SHARED_ATTENTION}
        mine = a[a.impl == impl].reset_index(drop=True)
        ref = mine.seqlen == ATTENTION_REFERENCE_L
        p = fit_attention(mine[ref].reset_index(drop=True), fixed=shared)
        test = mine[~ref].reset_index(drop=True)
        rows.append(
            _rows(
                source,
                _attention_config(test),
                test.seconds,
                _attention_model(test, {})(p),
                True,
                "impl held out",
            )
        )
    return rows


# The H100 hold-outs of the eager and cuDNN terms: (name, rows fitted on). Leave-one-source-out
# is not possible for either: cuDNN has one source, and eager's forward share needs both (the
# FA3 paper has its forward, the FA2 paper its forward + backward).
EAGER_SCHEMES = {
    "hd64 -> hd128": lambda r: r.headdim == 64,
    "hd128 -> hd64": lambda r: r.headdim == 128,
    "L<=2K -> 4K-8K": lambda r: r.seqlen <= 2048,
}
CUDNN_SCHEMES = {
    "hd64+hd256 -> hd128": lambda r: r.headdim != 128,
    "L<=2K -> 4K-16K": lambda r: r.seqlen <= 2048,
}


def _h100_config(a: pd.DataFrame) -> list[str]:
    return [
        f"{i} {p} {m} hd{d} L{L}"
        for i, p, m, d, L in zip(a.impl, a["pass"], a["mask"], a.headdim, a.seqlen, strict=True)
    ]


def _h100_frames(rows: pd.DataFrame, predicted, held_out: bool, scheme: str) -> list:
    """One frame per source; the scheme names the implementation and the pass."""
    rows = rows.assign(predicted=np.asarray(predicted))
    return [
        _rows(
            source,
            _h100_config(g),
            g.seconds,
            g.predicted,
            held_out,
            f"{g.impl.iloc[0]} {g['pass'].iloc[0]}: {scheme}",
        )
        for source, g in rows.groupby("source", sort=False)
    ]


def _h100_part_rows() -> list[pd.DataFrame]:
    """Eager and cuDNN on the H100, in-sample and held out (the A100 fit is fixed)."""
    h, _ = load_attention_h100()
    attention = fit_attention(load_attention()[0])
    frames = []
    eager = h[h.impl == "pytorch"].reset_index(drop=True)
    frames += _h100_frames(
        eager, eager_time(attention, fit_eager(eager, attention), eager), False, "in-sample"
    )
    for scheme, fitted in EAGER_SCHEMES.items():
        train = fitted(eager)
        p = fit_eager(eager[train], attention)
        test = eager[~train].reset_index(drop=True)
        frames += _h100_frames(test, eager_time(attention, p, test), True, scheme)
    cudnn = h[h.impl == "cudnn"].reset_index(drop=True)
    p = fit_cudnn(cudnn, attention)
    frames += _h100_frames(cudnn, _forward_model(cudnn, "cudnn", attention)(p), False, "in-sample")
    for scheme, fitted in CUDNN_SCHEMES.items():
        train = fitted(cudnn)
        p = fit_cudnn(cudnn[train].reset_index(drop=True), attention)
        test = cudnn[~train].reset_index(drop=True)
        frames += _h100_frames(test, _forward_model(test, "cudnn", attention)(p), True, scheme)
    return frames


def _fft_rows() -> list[pd.DataFrame]:
    f = load_fft()
    held = fft_split(f)
    config = [f"pytorch B64 H768 n{n}" for n in f.seqlen]
    fitted = fit_fft(f[~held])
    predicted = fft_conv_time(fitted, f.seqlen.values)
    return [
        _rows(
            "flashfftconv_h100",
            config,
            f.seconds,
            fft_conv_time(fit_fft(f), f.seqlen.values),
            False,
            "in-sample",
        ),
        _rows("flashfftconv_h100", config, f.seconds, predicted, held, "every other n held out"),
    ]


@cache
def _validation() -> pd.DataFrame:
    frames = _gemm_rows() + _attention_rows() + _h100_part_rows() + _fft_rows()
    return pd.concat(frames, ignore_index=True)


def validation_table() -> pd.DataFrame:
    """Every published point, predicted in-sample and, where held out, by a fit without it.

    A point appears once per scheme: ``in-sample`` (fit on everything) and each hold-out scheme
    it is held out in (``held_out`` True); the FFT split's fitted half is listed with
    ``held_out`` False under its scheme.
    """
    return _validation().copy()


def summary(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Median, p90 and worst |error| % per source and scheme, held-out and in-sample apart."""
    table = validation_table() if table is None else table
    err = table.assign(abs_error_pct=table.error_pct.abs())
    return (
        err.groupby(["source", "scheme", "held_out"])
        .abs_error_pct.agg(
            n="count",
            median="median",
            p90=lambda x: float(np.percentile(x, 90)),
            worst="max",
        )
        .reset_index()
    )


@cache
def _fitted() -> dict[str, Params]:
    attention = fit_attention(load_attention()[0])
    h100, _ = load_attention_h100()
    cudnn = fit_cudnn(h100[h100.impl == "cudnn"].reset_index(drop=True), attention)
    return {
        "gemm": fit_gemm(load_gemm()),
        "attention": attention | cudnn,
        "eager": fit_eager(h100[h100.impl == "pytorch"], attention),
        "fft": fit_fft(load_fft()),
    }


def fitted_parameters() -> dict[str, Params]:
    """Each part fitted on all of its published points."""
    return {part: dict(params) for part, params in _fitted().items()}


def _report() -> None:
    pd.set_option("display.width", 120)
    for part, params in fitted_parameters().items():
        print(f"{part}: " + ", ".join(f"{k}={v:.4g}" for k, v in params.items()))
    print()
    print(summary().to_string(index=False, float_format=lambda x: f"{x:.1f}"))


if __name__ == "__main__":
    _report()
