"""The ``subquadratic-ops`` adapter without its package (CUDA only, not installable here).

Availability is checked as it is on this machine (package absent). The adapter's contract is
checked by putting a float64 stand-in for ``subquadratic_ops_torch.fft_causal_conv1d`` in
``sys.modules``: it follows the documented signature (x (B, H, L), weight (H, K) → (B, H, L),
causal, no skip term) and the adapter must turn it into u∗k + D·u.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from hyperf import registry
from hyperf.ops import long_conv
from hyperf.ops.longconv import subquadratic_ops


def _package_missing() -> bool:
    return not subquadratic_ops._installed()


needs_no_package = pytest.mark.skipif(
    not _package_missing(), reason="subquadratic_ops_torch is installed here"
)


def stand_in_fft_causal_conv1d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The documented kernel in float64 torch: y[b, h, t] = Σ_{s ≤ t, s < K} w[h, s]·x[b, h, t−s]
    (no skip term, no gates)."""
    assert x.dim() == 3 and weight.dim() == 2 and weight.shape[0] == x.shape[1]
    assert x.is_contiguous() and weight.is_contiguous()
    x64, w64 = x.double(), weight.double()
    seq_len, filter_len = x.shape[-1], weight.shape[-1]
    y = torch.zeros_like(x64)
    for s in range(min(filter_len, seq_len)):
        y[..., s:] += w64[:, s, None] * x64[..., : seq_len - s]
    return y.to(x.dtype)


@pytest.fixture
def stand_in(monkeypatch):
    """A fake ``subquadratic_ops_torch`` package whose kernel records the dtypes it is given."""
    package = types.ModuleType("subquadratic_ops_torch")
    module = types.ModuleType("subquadratic_ops_torch.fft_causal_conv1d")
    calls = []

    def fft_causal_conv1d(x, weight):
        calls.append((x.dtype, weight.dtype, tuple(x.shape), tuple(weight.shape)))
        return stand_in_fft_causal_conv1d(x, weight)

    module.fft_causal_conv1d = fft_causal_conv1d
    package.fft_causal_conv1d = module
    monkeypatch.setitem(sys.modules, "subquadratic_ops_torch", package)
    monkeypatch.setitem(sys.modules, "subquadratic_ops_torch.fft_causal_conv1d", module)
    return calls


def numpy_long_conv(u: np.ndarray, k: np.ndarray, D: np.ndarray | None) -> np.ndarray:
    """Independent float64 reference: np.convolve per (b, c), first L samples, plus D·u."""
    batch, channels, seq_len = u.shape
    y = np.zeros_like(u)
    for b in range(batch):
        for c in range(channels):
            y[b, c] = np.convolve(u[b, c], k[c])[:seq_len]
    if D is not None:
        y += D[None, :, None] * u
    return y


def rel_error(y: np.ndarray, y_ref: np.ndarray) -> float:
    return float(np.abs(y - y_ref).max() / np.abs(y_ref).max())


# --- availability, package absent ----------------------------------------------------------


@needs_no_package
@pytest.mark.parametrize("name", ["longconv:subquadratic-ops", "hyena:subquadratic-ops"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_unavailable_without_the_package_naming_it(name, dtype):
    ok, reason = registry.check_available(name, "cpu", dtype)
    assert not ok
    assert "subquadratic-ops-torch-cu12" in reason and "-cu13" in reason and "CUDA" in reason


def test_registered_with_a_derived_hyena_operator():
    conv = registry.get("longconv:subquadratic-ops")
    hyena = registry.get("hyena:subquadratic-ops")
    assert hyena.derived_from == conv.name and hyena.available is conv.available
    assert conv.oracle == "longconv:reference" and conv.time_model is None
    assert conv.colour.startswith("#") and conv.colour not in {
        registry.get(n).colour for n in registry.names() if n.split(":", 1)[1] != conv.impl
    }


def test_cpu_with_the_package_is_cuda_only(stand_in, monkeypatch):
    monkeypatch.setattr(subquadratic_ops, "_installed", lambda: True)
    assert subquadratic_ops._available(torch.device("cpu"), torch.float32) == (False, "CUDA only")


def test_float64_on_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(subquadratic_ops, "_installed", lambda: True)
    ok, reason = subquadratic_ops._available(torch.device("cuda"), torch.float64)
    assert not ok and "float64" in reason and "float32" in reason


@needs_no_package
def test_running_without_the_package_says_what_to_install():
    u, k = torch.randn(1, 2, 8), torch.randn(2, 8)
    with pytest.raises(RuntimeError, match="subquadratic-ops-torch-cu12"):
        subquadratic_ops.subquadratic_conv(u, k, None)


# --- the adapter's contract, through the stand-in ------------------------------------------


@pytest.mark.parametrize(
    "batch, channels, seq_len, filter_len, with_skip",
    [(2, 3, 37, 37, True), (1, 4, 64, 7, True), (3, 2, 1, 1, False), (2, 5, 100, 100, False)],
)
def test_adapter_gives_conv_plus_skip_in_float64(
    stand_in, batch, channels, seq_len, filter_len, with_skip
):
    u = torch.randn(batch, channels, seq_len, dtype=torch.float64)
    k = torch.randn(channels, filter_len, dtype=torch.float64)
    D = torch.randn(channels, dtype=torch.float64) if with_skip else None
    y = subquadratic_ops.subquadratic_conv(u, k, D)
    assert y.shape == u.shape and y.dtype == torch.float64
    expected = numpy_long_conv(u.numpy(), k.numpy(), None if D is None else D.numpy())
    assert rel_error(y.numpy(), expected) <= 1e-10
    assert stand_in[-1] == (torch.float64, torch.float64, tuple(u.shape), tuple(k.shape))


def test_half_precision_runs_the_kernel_in_float32_and_returns_the_input_dtype(stand_in):
    u = torch.randn(2, 3, 50).to(torch.bfloat16)
    k = torch.randn(3, 50).to(torch.bfloat16)
    D = torch.randn(3).to(torch.bfloat16)
    y = subquadratic_ops.subquadratic_conv(u, k, D)
    assert y.dtype == torch.bfloat16 and y.shape == u.shape
    assert stand_in[-1][:2] == (torch.float32, torch.float32)
    expected = numpy_long_conv(u.double().numpy(), k.double().numpy(), D.double().numpy())
    assert rel_error(y.double().numpy(), expected) <= 2e-2  # bf16 output rounding


def test_long_conv_reaches_the_adapter_and_its_gates(stand_in):
    u = torch.randn(2, 3, 20, dtype=torch.float64)
    k = torch.randn(3, 20, dtype=torch.float64)
    D = torch.randn(3, dtype=torch.float64)
    pre, post = torch.randn_like(u), torch.randn_like(u)
    y = long_conv(u, k, D, backend="subquadratic-ops", pre=pre, post=post)
    v = (pre * u).numpy()
    expected = post.numpy() * numpy_long_conv(v, k.numpy(), D.numpy())
    assert rel_error(y.numpy(), expected) <= 1e-10


def test_gradients_flow_through_the_adapter(stand_in):
    u = torch.randn(1, 2, 9, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 9, dtype=torch.float64, requires_grad=True)
    D = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(subquadratic_ops.subquadratic_conv, (u, k, D))


@pytest.mark.parametrize(
    "k_shape, message",
    [
        ((4, 16), "k has 4 channels but u has 3"),
        ((3, 17), "k has length 17; it must be between 1 and L=16"),
        ((1, 3, 16), r"k must have shape \(C, Lk\)"),
    ],
)
def test_wrong_filter_shape_is_a_value_error(stand_in, k_shape, message):
    u = torch.randn(2, 3, 16, dtype=torch.float64)
    k = torch.randn(*k_shape, dtype=torch.float64)
    with pytest.raises(ValueError, match=message):
        subquadratic_ops.subquadratic_conv(u, k, None)
    with pytest.raises(ValueError, match=message):
        long_conv(u, k, None, backend="subquadratic-ops")
    assert stand_in == []  # refused before the kernel


def test_wrong_skip_shape_is_a_value_error(stand_in):
    u, k = torch.randn(2, 3, 16), torch.randn(3, 16)
    with pytest.raises(ValueError, match=r"D must have shape \(3,\)"):
        subquadratic_ops.subquadratic_conv(u, k, torch.randn(4))


def test_a_kernel_returning_the_wrong_shape_is_reported(stand_in, monkeypatch):
    module = sys.modules["subquadratic_ops_torch.fft_causal_conv1d"]
    monkeypatch.setattr(module, "fft_causal_conv1d", lambda x, w: x[..., :-1])
    with pytest.raises(RuntimeError, match="returned shape"):
        subquadratic_ops.subquadratic_conv(torch.randn(1, 2, 8), torch.randn(2, 8), None)


def test_terms_are_the_fft_convolution_s():
    from hyperf.ops.longconv.fft import fft_conv_terms
    from hyperf.workload import Workload

    w = Workload("longconv:subquadratic-ops", batch=2, seq_len=1024, d_model=64)
    entry = registry.get("longconv:subquadratic-ops")
    assert entry.flop_terms(w) == fft_conv_terms(2, 64, 1024)
    assert entry.byte_terms(w)["long_conv"] > 0 and entry.memory(w).saved > 0
