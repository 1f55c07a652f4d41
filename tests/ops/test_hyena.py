"""The Hyena operator: reference-compatible parameters, both variants' semantics, backends."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

import hyperf.ops.hyena as hyena_module
from hyperf.ops import HyenaOperator

# Float32 operator vs its float64 numpy transcription: relative error bound.
OPERATOR_TOL_FP32 = 1e-5
# The Triton backend (gates fused into the kernel) runs here in the Triton interpreter.
TRITON = ["triton"] if importlib.util.find_spec("triton") else []


def rel_error(y, y_ref) -> float:
    y, y_ref = np.asarray(y, dtype=np.float64), np.asarray(y_ref, dtype=np.float64)
    return float(np.abs(y - y_ref).max() / np.abs(y_ref).max())


# ---------------------------------------------------------------------------------------------
# An independent float64 transcription of the operator, in numpy, from DESIGN.md's semantics.
# It reads only the state dict, so it also pins down what each parameter means.


def oracle_filters(sd: dict, seq_len: int, modulate: bool) -> np.ndarray:
    """Implicit filters (L, channels) from the state dict, per the HyenaFilter definition."""
    z = sd["filter_fn.pos_emb.z"][0, :seq_len]
    t = sd["filter_fn.pos_emb.t"][0, :seq_len]
    h = z
    for i in (0, 2, 4):
        h = (
            h @ sd[f"filter_fn.implicit_filter.{i}.weight"].T
            + sd[f"filter_fn.implicit_filter.{i}.bias"]
        )
        h = np.sin(sd[f"filter_fn.implicit_filter.{i + 1}.freq"] * h)
    h = h @ sd["filter_fn.implicit_filter.6.weight"].T
    if modulate:
        h = h * np.exp(-t * np.abs(sd["filter_fn.modulation.deltas"][0]))
    return h


def causal_conv(x: np.ndarray, h: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """x (B, C, L), h (C, L), skip (C,) → Σ_s h[s]·x[t−s] + skip·x, by np.convolve."""
    seq_len = x.shape[-1]
    y = np.empty_like(x)
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            y[b, c] = np.convolve(x[b, c], h[c])[:seq_len]
    return y + skip[None, :, None] * x


def oracle_hyena(op: HyenaOperator, u: torch.Tensor) -> np.ndarray:
    sd = {k: v.detach().double().numpy() for k, v in op.state_dict().items()}
    x = u.detach().double().numpy()
    batch, seq_len, d_model = x.shape
    streams = (x @ sd["in_proj.weight"].T + sd["in_proj.bias"]).transpose(0, 2, 1)
    w = sd["short_filter.weight"][:, 0]  # (C, 3): cross-correlation with 2 zeros on the left
    padded = np.concatenate([np.zeros((batch, streams.shape[1], 2)), streams], axis=-1)
    streams = sum(w[None, :, j, None] * padded[..., j : j + seq_len] for j in range(3))
    streams = streams + sd["short_filter.bias"][None, :, None]
    chunks = [streams[:, i * d_model : (i + 1) * d_model] for i in range(op.order + 1)]
    *gates, v = chunks
    h = oracle_filters(sd, seq_len, op.filter_fn.modulation.modulate).T  # (n·D, L)
    h = h.reshape(-1, d_model, seq_len)
    skip = sd["filter_fn.bias"].reshape(-1, d_model)
    if op.variant == "safari":
        for i, gate in enumerate(reversed(gates[1:])):
            v = causal_conv(v * gate, h[i], skip[i])
        y = v * gates[0]
    else:
        y = v
        for n, gate in enumerate(gates):
            y = gate * causal_conv(y, h[n], skip[n])
    return y.transpose(0, 2, 1) @ sd["out_proj.weight"].T + sd["out_proj.bias"]


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq_len", [1, 2, 3, 50])
@pytest.mark.parametrize("kernel_size", [1, 3, 4])
def test_short_conv_equals_conv1d_of_biased_input(seq_len, kernel_size):
    """The shifted multiply-add short conv against torch's Conv1d, values and gradients."""
    channels = 5
    x, input_bias = torch.randn(2, channels, seq_len), torch.randn(channels)
    conv = torch.nn.Conv1d(
        channels, channels, kernel_size, padding=kernel_size - 1, groups=channels
    )
    args = [t.double().requires_grad_() for t in (x, conv.weight, conv.bias, input_bias)]
    y = hyena_module.causal_depthwise_conv(*args)
    expected = torch.nn.functional.conv1d(
        args[0] + args[3].unsqueeze(-1), args[1], args[2], padding=kernel_size - 1, groups=channels
    )[..., :seq_len]
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(hyena_module.causal_depthwise_conv, args)


def test_state_dict_matches_the_reference_layout():
    """Names and shapes of safari's standalone HyenaOperator(16, 32, order=3, filter_order=8,
    emb_dim=5), so its checkpoints load with strict=True."""
    op = HyenaOperator(16, 32, order=3, filter_order=8, emb_dim=5)
    expected = {
        "in_proj.weight": (64, 16),
        "in_proj.bias": (64,),
        "out_proj.weight": (16, 16),
        "out_proj.bias": (16,),
        "short_filter.weight": (64, 1, 3),
        "short_filter.bias": (64,),
        "filter_fn.bias": (32,),
        "filter_fn.pos_emb.z": (1, 32, 5),
        "filter_fn.pos_emb.t": (1, 32, 1),
        "filter_fn.implicit_filter.0.weight": (8, 5),
        "filter_fn.implicit_filter.0.bias": (8,),
        "filter_fn.implicit_filter.1.freq": (1, 8),
        "filter_fn.implicit_filter.2.weight": (8, 8),
        "filter_fn.implicit_filter.2.bias": (8,),
        "filter_fn.implicit_filter.3.freq": (1, 8),
        "filter_fn.implicit_filter.4.weight": (8, 8),
        "filter_fn.implicit_filter.4.bias": (8,),
        "filter_fn.implicit_filter.5.freq": (1, 8),
        "filter_fn.implicit_filter.6.weight": (32, 8),
        "filter_fn.modulation.deltas": (1, 1, 32),
    }
    assert {k: tuple(v.shape) for k, v in op.state_dict().items()} == expected
    # One Sin module shared by every activation, and deltas a buffer (not trained).
    sins = [op.filter_fn.implicit_filter[i] for i in (1, 3, 5)]
    assert sins[0] is sins[1] is sins[2]
    assert "filter_fn.modulation.deltas" not in dict(op.named_parameters())


def test_checkpoint_round_trip_strict():
    source = HyenaOperator(16, 32, order=3, filter_order=8, emb_dim=5)
    target = HyenaOperator(16, 32, order=3, filter_order=8, emb_dim=5)
    target.load_state_dict(source.state_dict(), strict=True)
    u = torch.randn(2, 32, 16)
    torch.testing.assert_close(target(u), source(u), rtol=0, atol=0)


def test_filter_constants_follow_their_formulas():
    seq_len, emb_dim, channels = 50, 7, 12
    op = HyenaOperator(channels // 2, seq_len, order=3, emb_dim=emb_dim)
    z = op.filter_fn.pos_emb.z.detach().double().numpy()[0]
    t = np.linspace(0, 1, seq_len)
    bands = (emb_dim - 1) // 2
    f = np.linspace(1e-4, bands - 1, bands)
    w = 2 * math.pi * np.arange(seq_len) / seq_len
    phase = np.exp(-1j * f[None, :] * w[:, None])
    # Computed in float32 as the reference does: phases up to ~4π carry ~1e-6 rounding.
    np.testing.assert_allclose(z, np.column_stack([t, phase.real, phase.imag]), atol=1e-5)
    deltas = op.filter_fn.modulation.deltas.double().numpy().ravel()
    np.testing.assert_allclose(
        deltas, np.linspace(math.log(1e-2) / 1.5, math.log(1e-2) / 0.3, channels), rtol=1e-6
    )


@pytest.mark.parametrize("variant", ["safari", "paper"])
@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("modulate", [True, False])
@pytest.mark.parametrize("longconv", ["fft", "blocked", *TRITON])
def test_operator_matches_numpy_oracle(variant, order, modulate, longconv):
    op = HyenaOperator(
        16,
        64,
        order=order,
        filter_order=8,
        emb_dim=5,
        modulate=modulate,
        variant=variant,
        longconv=longconv,
    )
    u = torch.randn(2, 64, 16)
    assert rel_error(op(u).detach().numpy(), oracle_hyena(op, u)) <= OPERATOR_TOL_FP32


@pytest.mark.parametrize("variant", ["safari", "paper"])
@pytest.mark.parametrize("seq_len", [1, 2, 45])
def test_shorter_sequences_use_the_first_filter_positions(variant, seq_len):
    op = HyenaOperator(16, 128, order=2, filter_order=8, variant=variant)
    u = torch.randn(2, seq_len, 16)
    y = op(u)
    assert y.shape == (2, seq_len, 16)
    assert rel_error(y.detach().numpy(), oracle_hyena(op, u)) <= OPERATOR_TOL_FP32


def test_longer_sequence_than_l_max_is_rejected():
    op = HyenaOperator(16, 32)
    with pytest.raises(ValueError, match="exceeds l_max=32"):
        op(torch.randn(1, 33, 16))


@pytest.mark.parametrize(
    ("variant", "order", "convs"),
    [("safari", 2, 1), ("safari", 4, 3), ("paper", 2, 2), ("paper", 3, 3)],
)
def test_number_of_long_convolutions(monkeypatch, variant, order, convs):
    calls = []
    real = hyena_module.long_conv

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(hyena_module, "long_conv", counting)
    op = HyenaOperator(8, 16, order=order, variant=variant)
    op(torch.randn(1, 16, 8))
    assert len(calls) == convs == op.num_long_convs


@pytest.mark.parametrize("variant", ["safari", "paper"])
def test_all_backends_give_the_same_operator(variant):
    torch.manual_seed(0)
    op = HyenaOperator(16, 200, order=3, filter_order=8, variant=variant, longconv="reference")
    u = torch.randn(2, 200, 16, dtype=torch.float64)
    y_ref = op.double()(u)
    for backend in ("fft", "blocked"):
        op.longconv = backend
        y = op.float()(u.float())
        assert rel_error(y.detach(), y_ref.detach()) <= OPERATOR_TOL_FP32, backend
        op.double()


@pytest.mark.parametrize("variant", ["safari", "paper"])
@pytest.mark.parametrize("longconv", ["fft", "blocked", "reference", *TRITON])
def test_causal(variant, longconv):
    op = HyenaOperator(16, 96, order=3, filter_order=8, variant=variant, longconv=longconv)
    u = torch.randn(1, 96, 16)
    t = 40
    perturbed = u.clone()
    perturbed[:, t] += 5.0
    with torch.no_grad():
        delta = op(perturbed) - op(u)
    after = delta[:, t:].abs().max().item()
    assert after > 1e-2
    assert delta[:, :t].abs().max().item() <= 1e-5 * after


def test_trains_gradients_reach_every_parameter():
    op = HyenaOperator(16, 32, order=3, filter_order=8)
    op(torch.randn(2, 32, 16)).square().mean().backward()
    missing = [n for n, p in op.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "mine"}, "variant must be one of safari, paper"),
        ({"order": 1}, "order must be at least 2"),
        ({"longconv": "nope"}, "longconv must be one of"),
        ({"emb_dim": 4}, "emb_dim must be odd"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HyenaOperator(16, 32, **kwargs)


def test_wrong_input_shape():
    with pytest.raises(ValueError, match=r"u must have shape \(B, L, 16\)"):
        HyenaOperator(16, 32)(torch.randn(2, 32, 8))
