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
