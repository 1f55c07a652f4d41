"""Measured memory against the analytic models: linear for Hyena, quadratic for attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperf.measure.memory import (
    analytic_activation_bytes,
    analytic_peak_bytes,
    cpu_peak_bytes,
    peak_memory,
    saved_activation_bytes,
)
from hyperf.workload import Workload

LENGTHS = [512, 1024, 2048, 4096]


def exponent(op: str) -> float:
    sizes = [
        saved_activation_bytes(Workload(op, batch=1, seq_len=L, d_model=32, n_heads=2))
        for L in LENGTHS
    ]
    return float(np.polyfit(np.log(LENGTHS), np.log(sizes), 1)[0])


def test_saved_activations_grow_linearly_for_hyena_quadratically_for_naive_attention():
    assert exponent("hyena:fft") == pytest.approx(1.0, abs=0.05)
    assert exponent("attention:naive") == pytest.approx(2.0, abs=0.1)


CASES = [
    (op, depth, variant)
    for op in ("hyena:fft", "hyena:blocked")
    for depth in (0, 2)
    for variant in ("safari", "paper")
]
CASES += [(op, 0, "safari") for op in ("longconv:fft", "longconv:blocked")]
CASES += [
    (op, depth, "safari") for op in ("attention:naive", "attention:sdpa-flash") for depth in (0, 2)
]
# The Triton kernel runs in the interpreter here: what it saves does not depend on that.
CASES += [("hyena:triton", 0, variant) for variant in ("safari", "paper")]
CASES += [("longconv:triton", 0, "safari")]


@pytest.mark.parametrize(("op", "depth", "variant"), CASES)
def test_model_matches_measurement_within_10_percent(op, depth, variant):
    w = Workload(op, batch=2, seq_len=1024, d_model=64, depth=depth, variant=variant, order=3)
    measured, model = saved_activation_bytes(w), analytic_activation_bytes(w)
    assert abs(model - measured) <= 0.10 * measured


@pytest.mark.parametrize("op", ["attention:naive", "attention:sdpa-math", "attention:sdpa-flash"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(("seq_len", "d_model", "heads"), [(1024, 64, None), (2048, 32, 2)])
def test_attention_model_with_and_without_the_mask(op, causal, seq_len, d_model, heads):
    """Naive attention saves its boolean mask (L² bytes) only when causal; SDPA math adds
    its causal bias in place and saves the scaled q and k either way."""
    w = Workload(op, seq_len=seq_len, d_model=d_model, n_heads=heads, causal=causal)
    measured, model = saved_activation_bytes(w), analytic_activation_bytes(w)
    assert abs(model - measured) <= 0.02 * measured
    if op == "attention:naive" and not causal:
        assert (
            analytic_activation_bytes(Workload(op, seq_len=seq_len, d_model=d_model, n_heads=heads))
            - model
            == seq_len**2
        )


def test_cpu_peak_follows_a_known_allocation_pattern():
    def pattern():
        a = torch.empty(1_000_000)  # 4 MB
        b = torch.empty(2_000_000)  # 8 MB, 12 MB live
        del a
        c = torch.empty(500_000)  # 2 MB, 10 MB live
        return b, c

    assert cpu_peak_bytes(pattern) == pytest.approx(12_000_000, rel=0.01)


def test_peak_of_an_operator_is_at_least_its_output_and_grows_with_backward():
    w = Workload("hyena:fft", batch=1, seq_len=2048, d_model=64)
    infer = peak_memory(w, "infer", "cpu")
    train = peak_memory(w, "fwd_bwd", "cpu")
    assert infer.peak_bytes >= 4 * 2048 * 64 and infer.method.startswith("torch.profiler")
    assert train.peak_bytes > infer.peak_bytes
    assert analytic_peak_bytes(w, "fwd_bwd") >= train.peak_bytes * 0.5
