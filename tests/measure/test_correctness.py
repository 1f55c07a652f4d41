"""The correctness gate passes real backends and catches a wrong one, causal (prefix) and
bidirectional (sampled rows at full length)."""

from __future__ import annotations

import pytest
import torch

from hyperf import registry
from hyperf.measure.correctness import (
    MIN_ROWS,
    ORACLE_BUDGET,
    ROWS,
    check_workload,
    oracle_prefix_len,
    oracle_rows,
    sample_rows,
)
from hyperf.ops.attention import SelfAttention
from hyperf.workload import Workload


@pytest.mark.parametrize(
    "op",
    [
        "longconv:fft",
        "longconv:blocked",
        "hyena:fft",
        "hyena:blocked",
        "attention:sdpa-math",
        "attention:sdpa-flash",
    ],
)
def test_real_backends_pass(op):
    result = check_workload(Workload(op, batch=2, seq_len=300, d_model=32, n_heads=4))
    assert result.ok and result.max_rel_error < 1e-5
    assert result.oracle.endswith("@float64") and result.checked_len == 300


def test_half_precision_gets_its_own_tolerance():
    result = check_workload(Workload("hyena:fft", seq_len=128, d_model=32, dtype="bfloat16"))
    assert result.ok and result.tolerance > 1e-3 and result.max_rel_error > 1e-4


@pytest.fixture
def off_by_one_backend():
    """A long convolution that shifts its output by one step: plausible, and wrong."""
    name = "longconv:off_by_one_test"

    def shifted(u, k, D):
        y = registry.get("longconv:fft").fn(u, k, D)
        return torch.nn.functional.pad(y[..., 1:], (0, 1))

    registry.add(
        registry.Entry(
            name, shifted, registry.always_available, "test only", oracle="longconv:reference"
        )
    )
    yield name
    registry.remove(name)


def test_a_wrong_backend_is_caught(off_by_one_backend):
    result = check_workload(Workload(off_by_one_backend, seq_len=64, d_model=8))
    assert not result.ok and result.max_rel_error > 0.1


def test_large_points_check_an_exact_causal_prefix():
    w = Workload("hyena:fft", seq_len=8192, d_model=768)
    prefix = oracle_prefix_len(w)
    assert 1 <= prefix < 8192
    assert 3 * 768 * prefix**2 <= 1e8 * 1.01


# --- bidirectional attention: sampled query rows at full length ---------------------------

ENCODERS = ["attention:naive", "attention:sdpa-math", "attention:sdpa-flash"]


@pytest.mark.parametrize("op", ENCODERS)
@pytest.mark.parametrize("depth", [0, 2])
def test_bidirectional_backends_pass_on_rows_at_full_length(op, depth):
    small = Workload(op, batch=2, seq_len=300, d_model=32, n_heads=4, depth=depth, causal=False)
    result = check_workload(small)
    assert result.ok and result.max_rel_error < 1e-5 and result.method == ROWS
    assert result.checked_len == 300  # cheap: every row
    large = Workload(op, batch=3, seq_len=4096, d_model=64, n_heads=2, depth=depth, causal=False)
    result = check_workload(large)
    assert result.ok and result.max_rel_error < 1e-5
    assert MIN_ROWS <= result.checked_len == oracle_rows(large) < 4096  # sampled


@pytest.fixture
def masked_backend():
    """Attention that ignores ``causal=False`` and masks the future anyway: a decoder timed
    as an encoder — plausible, and wrong."""
    name = "attention:always_masked_test"

    def build(d_model, l_max, n_heads=None, causal=True):
        return SelfAttention(d_model, l_max, n_heads, "sdpa-math", causal=True)

    registry.add(
        registry.Entry(name, build, registry.always_available, "test only", "attention:naive")
    )
    yield name
    registry.remove(name)


@pytest.mark.parametrize(
    "shape",
    [
        {"batch": 2, "seq_len": 64, "d_model": 32},  # every row
        {"batch": 3, "seq_len": 4096, "d_model": 64},  # sampled rows
        {"batch": 1, "seq_len": 2048, "d_model": 64, "depth": 2, "dtype": "bfloat16"},
    ],
)
def test_a_causal_output_passed_off_as_bidirectional_is_caught(masked_backend, shape):
    result = check_workload(Workload(masked_backend, n_heads=2, causal=False, **shape))
    assert not result.ok and result.max_rel_error > 0.1
    # The same backend is right where it is asked for causal attention.
    assert check_workload(Workload(masked_backend, n_heads=2, **shape)).ok


def test_sampled_rows_stay_within_the_budget():
    for seq_len in (1024, 8192, 65536):
        w = Workload("attention:naive", batch=8, seq_len=seq_len, d_model=768, causal=False)
        rows = oracle_rows(w)
        assert rows == MIN_ROWS or 2 * rows * seq_len * 768 <= ORACLE_BUDGET
        picked = sample_rows(seq_len, rows)
        assert picked[0] == 0 and picked[-1] == seq_len - 1 and len(picked) == rows
    assert sample_rows(10, 50).tolist() == list(range(10))
