"""Attention mixers: every available backend agrees with naive attention; all are causal."""

from __future__ import annotations

import pytest
import torch

from hyperf import registry
from hyperf.ops.attention import CausalSelfAttention, naive_core

ATTENTION = registry.names("attention")
AVAILABLE_CPU = [n for n in ATTENTION if registry.check_available(n, "cpu", torch.float32)[0]]
# Different summation orders in float32 (and the online softmax of flash): relative bound.
AGREEMENT_TOL_FP32 = 1e-5


def rel_error(y: torch.Tensor, y_ref: torch.Tensor) -> float:
    return ((y.double() - y_ref.double()).abs().max() / y_ref.double().abs().max()).item()


def test_math_and_flash_run_on_cpu():
    assert {"attention:naive", "attention:sdpa-math", "attention:sdpa-flash"} <= set(AVAILABLE_CPU)


def test_naive_core_matches_a_float64_loop():
    q, k, v = (torch.randn(1, 2, 9, 4, dtype=torch.float64) for _ in range(3))
    out = naive_core(q, k, v)
    for t in range(9):
        # Query t sees keys 0..t only; head dim 4 → scale 1/2.
        scores = q[..., t : t + 1, :] @ k[..., : t + 1, :].transpose(-2, -1) / 2.0
        expected = torch.softmax(scores, -1) @ v[..., : t + 1, :]
        torch.testing.assert_close(out[..., t : t + 1, :], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in AVAILABLE_CPU if n != "attention:naive"])
@pytest.mark.parametrize("seq_len", [1, 17, 256])
def test_backend_agrees_with_naive(name, seq_len):
    torch.manual_seed(torch.seed() % 2**31)
    state = torch.get_rng_state()
    op = registry.get(name).fn(64, 512, n_heads=4)
    torch.set_rng_state(state)
    naive = registry.get("attention:naive").fn(64, 512, n_heads=4)
    u = torch.randn(2, seq_len, 64)
    assert rel_error(op(u).detach(), naive(u).detach()) <= AGREEMENT_TOL_FP32


@pytest.mark.parametrize("name", AVAILABLE_CPU)
def test_causal(name):
    op = registry.get(name).fn(32, 64, n_heads=2)
    u = torch.randn(1, 64, 32)
    perturbed = u.clone()
    perturbed[:, 30] += 3.0
    with torch.no_grad():
        delta = op(perturbed) - op(u)
    assert delta[:, 30:].abs().max() > 1e-3
    assert delta[:, :30].abs().max() == 0


def test_unavailable_backends_say_why():
    for name in ATTENTION:
        ok, reason = registry.check_available(name, "cpu", torch.float32)
        assert ok or reason, name
    ok, reason = registry.check_available("attention:flash_attn", "cpu", torch.float16)
    assert not ok and ("flash-attn" in reason)


def test_default_heads_are_64_wide():
    assert CausalSelfAttention(768, 16).n_heads == 12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_heads": 5}, "n_heads=5 must divide d_model=64"),
        ({"core": "sdpa-fast"}, "core must be one of"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CausalSelfAttention(64, 32, **kwargs)


def test_bad_input():
    op = CausalSelfAttention(64, 32)
    with pytest.raises(ValueError, match="exceeds l_max=32"):
        op(torch.randn(1, 33, 64))
    with pytest.raises(ValueError, match=r"u must have shape \(B, L, 64\)"):
        op(torch.randn(1, 8, 32))
