"""attention:flex (compiled flex_attention) against float64 attention written here, forward
and gradients, causal and with a sliding window; a window the operator cannot take is
refused with the reason."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from hyperf import registry
from hyperf.measure.correctness import check_workload
from hyperf.ops.attention import SelfAttention
from hyperf.sweep.spec import PointParams
from hyperf.workload import Workload

pytestmark = pytest.mark.skipif(
    not registry.check_available("attention:flex", "cpu", torch.float32)[0],
    reason=registry.check_available("attention:flex", "cpu", torch.float32)[1],
)


def attention_oracle(module: SelfAttention, u: torch.Tensor, window: int | None) -> torch.Tensor:
    """Float64 multi-head attention with the module's weights, by loops over heads."""
    u = u.double()
    batch, seq_len, d = u.shape
    heads = module.n_heads
    qkv = u @ module.Wqkv.weight.double().T + module.Wqkv.bias.double()
    q, k, v = qkv.view(batch, seq_len, 3, heads, d // heads).unbind(2)
    out = torch.empty(batch, seq_len, heads, d // heads, dtype=torch.float64)
    i = torch.arange(seq_len)[:, None]
    j = torch.arange(seq_len)[None, :]
    allowed = (j <= i) & ((i - j < window) if window else True)
    for h in range(heads):
        scores = q[:, :, h] @ k[:, :, h].transpose(1, 2) / math.sqrt(d // heads)
        scores = scores.masked_fill(~allowed, float("-inf"))
        out[:, :, h] = torch.softmax(scores, -1) @ v[:, :, h]
    y = out.reshape(batch, seq_len, d)
    return y @ module.out_proj.weight.double().T + module.out_proj.bias.double()


@pytest.mark.parametrize("window", [None, 1, 37])
def test_flex_matches_float64_attention_forward(window):
    seed = torch.seed() % 2**31
    generator = torch.manual_seed(seed)
    module = SelfAttention(64, 256, 2, "flex", window=window)
    u = torch.randn(2, 200, 64, generator=generator, requires_grad=True)
    with torch.no_grad():
        y = module(u)
    expected = attention_oracle(module, u, window)
    assert (y.double() - expected).abs().max() / expected.abs().max() < 1e-4, seed
    # torch 2.13 has no CPU backward for flex_attention: a fwd_bwd point there fails with
    # this reason (its CUDA gradients are PyTorch's own, untested here: no GPU)
    with pytest.raises(NotImplementedError, match="backward on CPU"):
        module(u)


def test_the_correctness_gate_checks_a_windowed_flex_against_windowed_naive():
    result = check_workload(Workload("attention:flex", seq_len=300, d_model=64, n_heads=2,
                                     window=48))  # fmt: skip
    assert result.ok and result.independent and result.oracle == "attention:naive@float64"


def test_bad_windows_are_refused():
    with pytest.raises(ValidationError, match="window"):
        PointParams(op="attention:flex", window=0)
    with pytest.raises(ValidationError, match="sliding window is causal"):
        PointParams(op="attention:flex", window=16, causal=False)
    # SDPA's flash backend takes no window: the plan resets it rather than measure it twice
    from hyperf.sweep.plan import normalise

    assert normalise(Workload("attention:sdpa-flash", window=16)).window is None
