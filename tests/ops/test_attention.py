"""Attention mixers: every available backend agrees with naive attention, causal by default
and bidirectional with ``causal=False``; FlashAttention-2/3 availability and cores."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

from hyperf import registry
from hyperf.ops.attention import (
    CausalSelfAttention,
    SelfAttention,
    _flash_attn3_available,
    flash_attn3_core,
    flash_attn_core,
    naive_core,
)
from hyperf.workload import Workload

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
    with torch.no_grad():  # flex_attention has no CPU backward (its gradients: on CUDA)
        assert rel_error(op(u), naive(u)) <= AGREEMENT_TOL_FP32


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


# --- causal=False: bidirectional (encoder) attention -----------------------------------


def oracle_float64(module, u: torch.Tensor, causal: bool) -> np.ndarray:
    """The whole mixer in NumPy float64, written out: projections, per-head softmax(qkᵀ/√d)
    (the future masked only when causal), values, output projection."""
    x = u.double().numpy()
    w, b = (t.detach().double().numpy() for t in (module.Wqkv.weight, module.Wqkv.bias))
    qkv = x @ w.T + b  # (B, L, 3D)
    batch, seq_len, d_model = x.shape
    heads = module.n_heads
    q, k, v = (
        qkv[..., i * d_model : (i + 1) * d_model].reshape(batch, seq_len, heads, -1)
        for i in range(3)
    )
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
    if causal:
        scores = np.where(np.triu(np.ones((seq_len, seq_len), bool), 1), -np.inf, scores)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    y = np.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, seq_len, d_model)
    wo, bo = (t.detach().double().numpy() for t in (module.out_proj.weight, module.out_proj.bias))
    return y @ wo.T + bo


@pytest.mark.parametrize("name", AVAILABLE_CPU)
@pytest.mark.parametrize("seq_len", [1, 17, 256])
def test_non_causal_matches_a_float64_oracle_and_differs_from_causal(name, seq_len):
    torch.manual_seed(torch.seed() % 2**31)  # fresh inputs every run
    encoder = registry.get(name).fn(64, 512, n_heads=4, causal=False)
    decoder = registry.get(name).fn(64, 512, n_heads=4)
    decoder.load_state_dict(encoder.state_dict())
    assert not encoder.causal and decoder.causal
    u = torch.randn(2, seq_len, 64)
    with torch.no_grad():
        y, y_causal = encoder(u).double().numpy(), decoder(u).double().numpy()
    reference = oracle_float64(encoder, u, causal=False)
    scale = np.abs(reference).max()
    assert np.abs(y - reference).max() / scale <= AGREEMENT_TOL_FP32
    # The causal reference is the same oracle with the mask: the causal output agrees with it
    # and, beyond one position, the two differ by far more than rounding.
    causal_reference = oracle_float64(encoder, u, causal=True)
    assert np.abs(y_causal - causal_reference).max() / scale <= AGREEMENT_TOL_FP32
    if seq_len > 1:
        assert np.abs(y - y_causal).max() / scale > 1e-2


def test_naive_core_without_the_mask_matches_a_float64_loop():
    q, k, v = (torch.randn(1, 2, 9, 4, dtype=torch.float64) for _ in range(3))
    out = naive_core(q, k, v, causal=False)
    for t in range(9):
        scores = q[..., t : t + 1, :] @ k.transpose(-2, -1) / 2.0  # every key, past and future
        expected = torch.softmax(scores, -1) @ v
        torch.testing.assert_close(out[..., t : t + 1, :], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", AVAILABLE_CPU)
def test_non_causal_sees_the_future(name):
    op = registry.get(name).fn(32, 64, n_heads=2, causal=False)
    u = torch.randn(1, 64, 32)
    perturbed = u.clone()
    perturbed[:, 30] += 3.0
    with torch.no_grad():
        delta = op(perturbed) - op(u)
    assert delta[:, :30].abs().amax(-1).min() > 1e-6  # every earlier position moved
    assert delta[:, 30:].abs().max() > 1e-3


def test_workload_passes_causal_to_attention_only():
    encoder, _ = Workload("attention:sdpa-math", seq_len=16, d_model=32, causal=False).instantiate()
    assert isinstance(encoder, SelfAttention) and not encoder.causal
    deep, _ = Workload(
        "attention:naive", seq_len=16, d_model=32, depth=2, causal=False
    ).instantiate()
    assert all(not block.mixer.causal for block in deep.blocks)
    assert CausalSelfAttention is SelfAttention and SelfAttention(32, 8).causal
    for op in ("hyena:fft", "longconv:fft"):
        with pytest.raises(ValueError, match="causal=False applies to attention"):
            Workload(op, seq_len=16, d_model=8, causal=False).instantiate()


def test_a_builder_without_causal_builds_causal_and_refuses_non_causal():
    """A plugin's attention builder written before ``causal`` existed still builds (causal is
    passed only when False) and says why it cannot build a bidirectional mixer."""
    name = "attention:old_plugin_test"
    registry.add(
        registry.Entry(
            name,
            lambda d_model, l_max, n_heads=None: SelfAttention(d_model, l_max, n_heads),
            registry.always_available,
            "test only",
            "attention:naive",
        )
    )
    try:
        module, u = Workload(name, seq_len=8, d_model=16).instantiate()
        assert module(u).shape == u.shape
        with pytest.raises(ValueError, match="takes no 'causal' parameter"):
            Workload(name, seq_len=8, d_model=16, causal=False).instantiate()
    finally:
        registry.remove(name)


# --- FlashAttention-2 and -3 cores with stand-in modules (no GPU here) ---------------------


def stand_in(name: str, returns_lse: bool) -> types.ModuleType:
    """A module with ``flash_attn_func(q, k, v, causal=…)`` in flash-attn's (B, L, H, d)
    layout, computed by naive attention; optionally returning (out, lse) as some FA3
    releases do."""
    module = types.ModuleType(name)

    def flash_attn_func(q, k, v, causal=False, **kwargs):
        out = naive_core(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal)
        out = out.transpose(1, 2)
        return (out, torch.zeros(out.shape[:3])) if returns_lse else out

    module.flash_attn_func = flash_attn_func
    return module


@pytest.mark.parametrize(
    ("core", "module", "returns_lse"),
    [
        (flash_attn_core, "flash_attn", False),
        (flash_attn3_core, "flash_attn_interface", False),
        (flash_attn3_core, "flash_attn_interface", True),
    ],
)
@pytest.mark.parametrize("causal", [True, False])
def test_flash_cores_pass_layout_and_causal_through(monkeypatch, core, module, returns_lse, causal):
    monkeypatch.setitem(sys.modules, module, stand_in(module, returns_lse))
    q, k, v = (torch.randn(2, 3, 10, 8, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(core(q, k, v, causal=causal), naive_core(q, k, v, causal))


def test_flash_attn3_without_the_package_says_so(monkeypatch):
    monkeypatch.delitem(sys.modules, "flash_attn_interface", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    for device in ("cpu", "cuda"):
        ok, reason = _flash_attn3_available(torch.device(device), torch.float16)
        assert not ok and "flash_attn_interface" in reason and "FlashAttention-3" in reason


def test_flash_attn3_needs_cuda_sm90_and_half_precision(monkeypatch):
    monkeypatch.setitem(sys.modules, "flash_attn_interface", stand_in("flash_attn_interface", True))
    ok, reason = registry.check_available("attention:flash_attn3", "cpu", torch.float16)
    assert not ok and "CUDA" in reason and "sm_90" in reason
    # A CUDA device of another generation, and float32 on a Hopper one.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    ok, reason = _flash_attn3_available(torch.device("cuda"), torch.float16)
    assert not ok and "sm_90" in reason and "A100 is sm_80" in reason
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    ok, reason = _flash_attn3_available(torch.device("cuda"), torch.float32)
    assert not ok and "float16 and bfloat16" in reason
    assert _flash_attn3_available(torch.device("cuda"), torch.bfloat16) == (True, "")


def test_flash_attn3_is_registered_and_checked_against_naive():
    entry = registry.get("attention:flash_attn3")
    assert entry.oracle == "attention:naive" and "FlashAttention-3" in entry.summary
    if not torch.cuda.is_available():
        ok, reason = registry.check_available("attention:flash_attn3", "cpu", torch.bfloat16)
        assert not ok and reason
