"""StripedHyena 2's Hyena-SE, -MR and -LI: NumPy float64 oracles, gradients against the
reference path, precision, the registry's entries and the plan's handling of filter_len."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from hyperf import registry
from hyperf.measure.correctness import check_workload
from hyperf.measure.memory import analytic_activation_bytes, saved_activation_bytes
from hyperf.ops.regions import CATEGORIES, PREFIX
from hyperf.ops.striped_hyena import StripedHyenaOperator
from hyperf.sweep.plan import normalise
from hyperf.sweep.spec import PointParams
from hyperf.workload import Workload

# (kind, constructor keywords): default and short explicit filters, a filter longer than
# the input (its first L taps), per-channel filters, real and complex poles.
CASES = {
    "se": ("se", {}),
    "se-3taps-per-channel": ("se", {"filter_len": 3, "filter_groups": 32}),
    "mr-20taps": ("mr", {"filter_len": 20}),
    "mr-default-128-over-L": ("mr", {}),
    "li": ("li", {}),
    "li-complex-grouped": ("li", {"complex_poles": True, "modes": 5, "filter_groups": 8}),
}
B, L, D = 2, 50, 32


def rel_error(y, y_ref) -> float:
    y, y_ref = np.asarray(y, dtype=np.float64), np.asarray(y_ref, dtype=np.float64)
    return float(np.abs(y - y_ref).max() / np.abs(y_ref).max())


def build(case: str, conv: str = "fast", seed: int = 0, l_max: int = L) -> StripedHyenaOperator:
    kind, kwargs = CASES[case]
    torch.manual_seed(seed)
    return StripedHyenaOperator(D, l_max, kind, conv=conv, **kwargs).double()


def fresh_input(seed: int, seq_len: int = L) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(B, seq_len, D, generator=generator, dtype=torch.float64)


def numpy_operator(op: StripedHyenaOperator, u: torch.Tensor) -> np.ndarray:
    """The block in float64 NumPy from the module's weights and its own materialised filter:
    projections, 3-tap causal featurizer, gates and the causal convolution by np.convolve."""
    x = u.detach().numpy()
    seq_len = x.shape[1]
    w_in = op.in_proj.weight.detach().numpy()  # (3D, D)
    taps = op.short_filter.detach().numpy()[:, 0]  # (3D, 3), cross-correlation order
    h = op.filter(seq_len).detach().numpy()  # (D, K)
    skip = np.zeros(D) if op.D is None else op.D.detach().numpy()
    projected = np.einsum("cd,bld->bcl", w_in, x)
    streams = np.empty_like(projected)
    z = np.empty((B, D, seq_len))
    for b in range(B):
        for c in range(3 * D):  # conv1d correlates: np.convolve with the reversed taps
            streams[b, c] = np.convolve(projected[b, c], taps[c, ::-1])[:seq_len]
    x1, x2, v = streams[:, :D], streams[:, D : 2 * D], streams[:, 2 * D :]
    gated = x2 * v
    for b in range(B):
        for c in range(D):
            z[b, c] = np.convolve(gated[b, c], h[c])[:seq_len] + skip[c] * gated[b, c]
    y = (x1 * z).transpose(0, 2, 1)
    return y @ op.out_proj.weight.detach().numpy().T + op.out_proj.bias.detach().numpy()


@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_matches_numpy_in_float64(case):
    op = build(case)
    for seed, seq_len in ((11, L), (12, 17)):  # the full length, and a shorter input
        u = fresh_input(seed, seq_len)
        with torch.no_grad():
            y = op(u)
        assert rel_error(y.numpy(), numpy_operator(op, u)) <= 1e-10


def test_filters_follow_their_definitions():
    """MR: taps under exp(−r_g·s/(K−1)), r_g log-spaced over [0.1, 100]; LI: Σ_r R·λ^t with
    λ = exp(−e^a) (real) or exp(−e^a + iθ) (complex); each filter repeated over its group."""
    mr = build("mr-20taps")
    taps = mr.h.detach().numpy()
    rates = np.logspace(-1, 2, mr.groups)
    window = np.exp(-rates[:, None] * np.arange(20) / 19)
    expected = np.repeat(taps * window, D // mr.groups, axis=0)
    assert rel_error(mr.filter(L).detach().numpy(), expected) <= 1e-6  # window kept in fp32
    t = np.arange(L)
    for case in ("li", "li-complex-grouped"):
        li = build(case)
        a, res = li.log_rate.detach().numpy(), li.residues.detach().numpy()
        lam = np.exp(-np.exp(a))
        if li.theta is not None:
            lam = lam * np.exp(1j * li.theta.detach().numpy())
            res = res + 1j * li.residues_imag.detach().numpy()
        h = np.real((res[..., None] * lam[..., None] ** t).sum(1))
        expected = np.repeat(h, D // li.groups, axis=0)
        assert rel_error(li.filter(L).detach().numpy(), expected) <= 1e-12


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_of_the_fast_path_match_the_reference_path(case):
    fast, reference = build(case, "fast", seed=3), build(case, "reference", seed=3)
    grads = []
    for op in (fast, reference):
        u = fresh_input(21).requires_grad_(True)
        upstream = torch.randn(B, L, D, generator=torch.Generator().manual_seed(22)).double()
        op(u).backward(upstream)
        grads.append([u.grad, *(p.grad for p in op.parameters())])
    assert len(grads[0]) == len(grads[1])
    for got, want in zip(*grads, strict=True):
        assert got is not None and rel_error(got.numpy(), want.numpy()) <= 1e-8


@pytest.mark.parametrize("case", list(CASES))
def test_float32_is_within_1e_4_of_float64(case):
    op = build(case)
    u = fresh_input(31)
    with torch.no_grad():
        y64 = op(u)
        y32 = op.float()(u.float())
    assert y32.dtype == torch.float32
    assert rel_error(y32.numpy(), y64.numpy()) <= 1e-4


def test_causal():
    """Changing inputs from t = 30 on leaves the outputs before it alone (to the FFT's
    rounding in float64) and changes those after."""
    for case in CASES:
        op = build(case)
        u = fresh_input(41)
        changed = u.clone()
        changed[:, 30:] += 1.0
        with torch.no_grad():
            y, y_changed = op(u).numpy(), op(changed).numpy()
        assert rel_error(y_changed[:, :30], y[:, :30]) <= 1e-13, case
        assert rel_error(y_changed[:, 30:], y[:, 30:]) > 1e-2, case


def test_through_the_project():
    module, u = Workload(op="hyena:mr", seq_len=300, d_model=64, filter_len=32).instantiate()
    assert module.taps == 32 and module(u).shape == (1, 300, 64)
    for op, filter_len in (("hyena:se", None), ("hyena:mr", 32), ("hyena:li", None)):
        w = Workload(op=op, batch=2, seq_len=300, d_model=64, filter_len=filter_len)
        result = check_workload(w)
        assert result.ok and result.independent, result
        assert result.oracle == f"{op}-reference@float64"
        assert registry.get(op).oracle == f"{op}-reference"
        assert registry.get(f"{op}-reference").oracle is None  # an oracle, like longconv's


def test_entries_take_their_own_parameters():
    assert registry.get("hyena:se").builder_params == ("filter_len",)
    assert registry.get("hyena:mr-reference").builder_params == ("filter_len",)
    assert registry.get("hyena:li").builder_params == ()
    colours = {registry.get(f"hyena:{k}").colour for k in ("se", "mr", "li")}
    others = {registry.get(n).colour for n in registry.names() if "-reference" not in n}
    assert len(colours) == 3 and None not in colours
    assert sum(registry.get(n).colour in colours for n in registry.names()) == 3, others


def test_bad_parameters_are_refused():
    with pytest.raises(pydantic.ValidationError) as error:
        PointParams(op="hyena:se", seq_len=128, filter_len=200)
    assert "filter_len 200 exceeds L=128" in str(error.value)
    with pytest.raises(pydantic.ValidationError, match="filter is implicit: filter_len"):
        PointParams(op="hyena:li", seq_len=128, filter_len=16)
    with pytest.raises(pydantic.ValidationError, match="filter_len"):
        PointParams(op="hyena:mr", seq_len=128, filter_len=0)
    PointParams(op="hyena:mr", seq_len=128, filter_len=128)  # at most L: accepted
    with pytest.raises(ValueError, match="filter_len does not apply"):
        StripedHyenaOperator(16, 64, "li", filter_len=8)
    with pytest.raises(ValueError, match="must divide d_model"):
        StripedHyenaOperator(16, 64, "mr", filter_groups=3)


def test_the_plan_resets_what_an_operator_does_not_take():
    li = normalise(Workload(op="hyena:li", order=3, filter_order=16, filter_len=None))
    assert li.order == 2 and li.filter_order == 64
    mr = normalise(Workload(op="hyena:mr", order=3, emb_dim=5, filter_len=32))
    assert mr.order == 2 and mr.emb_dim == 3 and mr.filter_len == 32


@pytest.mark.parametrize("op", ["hyena:se", "hyena:mr", "hyena:li"])
def test_memory_model_matches_what_autograd_keeps(op):
    w = Workload(op=op, batch=2, seq_len=512, d_model=32)
    measured, model = saved_activation_bytes(w), analytic_activation_bytes(w)
    assert abs(model - measured) <= 0.02 * measured


@pytest.mark.parametrize("op", ["hyena:se", "hyena:mr", "hyena:li"])
def test_profile_names_the_stages(op):
    module, u = Workload(op=op, seq_len=64, d_model=32).instantiate()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        module(u)
    seen = {e.name.removeprefix(PREFIX) for e in prof.events() if e.name.startswith(PREFIX)}
    assert seen <= set(CATEGORIES)
    conv = {"long conv"} if op == "hyena:se" else {"fft forward", "fft inverse"}
    assert seen == {"projections", "short conv", "filter generation", "pointwise/gating"} | conv


def test_flop_terms_count_the_convolution_per_kind():
    w = Workload(op="hyena:se", batch=2, seq_len=256, d_model=32)
    fwd, bwd = registry.get("hyena:se").flop_terms(w)
    assert (
        fwd["direct_conv"] == 2 * 7 * 2 * 256 * 32 and bwd["direct_conv"] == 2 * fwd["direct_conv"]
    )
    fwd_mr, _ = registry.get("hyena:mr").flop_terms(w.with_op("hyena:mr"))
    fwd_li, _ = registry.get("hyena:li").flop_terms(w.with_op("hyena:li"))
    assert fwd_mr["fft"] == fwd_li["fft"] > 0 and "direct_conv" not in fwd_mr
    assert fwd_li["filter_modes"] == 3 * 32 * 16 * 256
