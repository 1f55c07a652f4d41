"""The correctness gate passes real backends and catches a wrong one."""

from __future__ import annotations

import pytest
import torch

from hyperf import registry
from hyperf.measure.correctness import check_workload, oracle_prefix_len
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
    registry._ENTRIES.pop(name)


def test_a_wrong_backend_is_caught(off_by_one_backend):
    result = check_workload(Workload(off_by_one_backend, seq_len=64, d_model=8))
    assert not result.ok and result.max_rel_error > 0.1


def test_large_points_check_an_exact_causal_prefix():
    w = Workload("hyena:fft", seq_len=8192, d_model=768)
    prefix = oracle_prefix_len(w)
    assert 1 <= prefix < 8192
    assert 3 * 768 * prefix**2 <= 1e8 * 1.01
