"""Analytic FLOP models against FlopCounterMode, and their scaling."""

from __future__ import annotations

import math

import pytest

from hyperf.measure.flops import analytic_bytes, analytic_flops, counted_flops
from hyperf.workload import Workload


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("mode", ["fwd", "fwd_bwd"])
@pytest.mark.parametrize("variant", ["safari", "paper"])
def test_hyena_matmuls_and_ffts_agree_with_the_counter(mode, variant):
    w = Workload("hyena:fft", batch=2, seq_len=512, d_model=64, order=3, variant=variant)
    analytic, counted = analytic_flops(w, mode), counted_flops(w, mode)
    matmuls = analytic["in_proj"] + analytic["out_proj"] + analytic["filter_ffn"]
    assert rel(matmuls, counted["matmul"]) <= 0.02
    assert counted["fft"] > 0  # the registered FFT formulas count what the counter skipped
    assert rel(analytic["fft"], counted["fft"]) <= 0.02


@pytest.mark.parametrize("op", ["attention:naive", "attention:sdpa-math", "attention:sdpa-flash"])
def test_attention_agrees_with_the_counter_up_to_causality(op):
    w = Workload(op, batch=2, seq_len=256, d_model=128, n_heads=2)
    analytic, counted = analytic_flops(w, "fwd"), counted_flops(w, "fwd")
    projections = analytic["wqkv"] + analytic["out_proj"]
    # The counter does not know the mask: it counts the full L×L core, twice the causal one.
    assert rel(projections + 2 * analytic["attention_core"], counted["total"]) <= 0.02


@pytest.mark.parametrize("op", ["attention:naive", "attention:sdpa-math", "attention:sdpa-flash"])
def test_bidirectional_attention_counts_the_whole_core(op):
    w = Workload(op, batch=2, seq_len=256, d_model=128, n_heads=2, causal=False)
    analytic, counted = analytic_flops(w, "fwd"), counted_flops(w, "fwd")
    projections = analytic["wqkv"] + analytic["out_proj"]
    assert rel(projections + analytic["attention_core"], counted["total"]) <= 0.02
    causal = Workload(op, batch=2, seq_len=256, d_model=128, n_heads=2)
    for mode in ("fwd", "bwd", "fwd_bwd"):
        core = analytic_flops(w, mode)["attention_core"]
        assert core == pytest.approx(2 * analytic_flops(causal, mode)["attention_core"])
        assert analytic_flops(w, mode)["wqkv"] == analytic_flops(causal, mode)["wqkv"]
        # Either way the eager paths write and read the whole L×L scores: the same bytes.
        assert analytic_bytes(w, mode) == analytic_bytes(causal, mode)


def test_blocked_reports_its_own_matmul_flops():
    w = Workload("hyena:blocked", batch=2, seq_len=1000, d_model=32)
    analytic, counted = analytic_flops(w, "fwd"), counted_flops(w, "fwd")
    matmuls = (
        analytic["monarch_matmul"]
        + analytic["in_proj"]
        + analytic["out_proj"]
        + analytic["filter_ffn"]
    )
    assert rel(matmuls, counted["matmul"]) <= 0.02
    assert analytic["monarch_matmul"] > analytic_flops(w.with_op("hyena:fft"), "fwd")["fft"]


def test_scaling_in_sequence_length():
    def total(op, seq_len):
        return analytic_flops(Workload(op, seq_len=seq_len, d_model=64), "fwd")

    # Attention's core is quadratic; the FFT term is n·log n.
    assert total("attention:naive", 8192)["attention_core"] == pytest.approx(
        4 * total("attention:naive", 4096)["attention_core"]
    )
    ratio = total("hyena:fft", 8192)["fft"] / total("hyena:fft", 4096)["fft"]
    assert ratio == pytest.approx(2 * math.log2(16384) / math.log2(8192), rel=1e-9)


def test_modes_and_depth():
    w = Workload("hyena:fft", seq_len=256, d_model=32)
    fwd, bwd, both = (analytic_flops(w, m)["total"] for m in ("fwd", "bwd", "fwd_bwd"))
    assert both == pytest.approx(fwd + bwd)
    assert analytic_flops(w, "infer") == analytic_flops(w, "fwd")
    deep = analytic_flops(Workload("hyena:fft", seq_len=256, d_model=32, depth=3), "fwd")
    assert deep["in_proj"] == pytest.approx(3 * analytic_flops(w, "fwd")["in_proj"])
    assert deep["mlp"] == pytest.approx(3 * 2 * 2 * 256 * 32 * 128)
    assert counted_flops(Workload("hyena:fft", seq_len=256, d_model=32, depth=2), "fwd")[
        "matmul"
    ] == pytest.approx(
        deep["mlp"] * 2 / 3
        + 2
        * (
            analytic_flops(w, "fwd")["in_proj"]
            + analytic_flops(w, "fwd")["out_proj"]
            + analytic_flops(w, "fwd")["filter_ffn"]
        ),
        rel=0.02,
    )


def test_bytes_and_bad_mode():
    b = analytic_bytes(Workload("hyena:fft", seq_len=1024, d_model=64), "fwd")
    assert b["total"] == pytest.approx(sum(v for k, v in b.items() if k != "total"))
    with pytest.raises(ValueError, match="mode must be one of"):
        analytic_flops(Workload("hyena:fft"), "train")
