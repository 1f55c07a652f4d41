"""Mamba-2 (``ssm:*``): the chunked SSD scan and the sequential oracle against an independent
NumPy float64 recurrence, the chunked path's gradients against the sequential one's, float32
against the float64 oracle, and the entries through the project (workload, correctness gate,
availability, refusals, FLOP and memory models, profiler regions)."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from hyperf import registry
from hyperf.measure.correctness import check_workload
from hyperf.measure.flops import analytic_flops, counted_flops
from hyperf.measure.memory import analytic_activation_bytes, saved_activation_bytes
from hyperf.ops.regions import PREFIX
from hyperf.ops.ssm import Mamba2, ssd_chunked, ssd_sequential
from hyperf.sweep.spec import PointParams
from hyperf.workload import Workload


def rel_error(y: torch.Tensor, y_ref: torch.Tensor) -> float:
    y, y_ref = torch.as_tensor(y).double(), torch.as_tensor(y_ref).double()
    return ((y - y_ref).abs().max() / y_ref.abs().max()).item()


def fresh_seed() -> int:
    """A new seed per run (reported with any failure)."""
    return int(np.random.SeedSequence().entropy % 2**31)


def numpy_recurrence(x, dt, A, B, C):
    """The SSM equations, one head and one step at a time, in float64:
    h_t = exp(dt_t·A)·h_{t−1} + dt_t·x_t B_tᵀ (P×N), y_t = h_t C_t; head k reads group
    k // (heads / groups)."""
    batch, seq_len, heads, headdim = x.shape
    groups, d_state = B.shape[2:]
    y = np.zeros_like(x)
    for b in range(batch):
        for k in range(heads):
            group = k // (heads // groups)
            h = np.zeros((headdim, d_state))
            for t in range(seq_len):
                h = np.exp(dt[b, t, k] * A[k]) * h + dt[b, t, k] * np.outer(
                    x[b, t, k], B[b, t, group]
                )
                y[b, t, k] = h @ C[b, t, group]
    return y


def random_ssm_inputs(rng, batch, seq_len, heads, headdim, groups, d_state):
    x = rng.standard_normal((batch, seq_len, heads, headdim))
    dt = np.log1p(np.exp(rng.standard_normal((batch, seq_len, heads)) - 1.0))  # softplus > 0
    A = -np.exp(rng.standard_normal(heads))
    B = rng.standard_normal((batch, seq_len, groups, d_state))
    C = rng.standard_normal((batch, seq_len, groups, d_state))
    return x, dt, A, B, C


# (L, chunk, state block, heads, groups): whole chunks; a partial last chunk with two groups;
# L shorter than a chunk; more chunks than one state block (state carried between blocks);
# one position.
SCAN_CASES = [
    (64, 16, 64, 2, 1),
    (50, 16, 64, 4, 2),
    (10, 16, 64, 2, 1),
    (45, 4, 3, 2, 1),
    (1, 8, 64, 1, 1),
]


@pytest.mark.parametrize(("seq_len", "chunk", "block", "heads", "groups"), SCAN_CASES)
def test_chunked_and_sequential_scans_match_an_independent_float64_recurrence(
    seq_len, chunk, block, heads, groups
):
    seed = fresh_seed()
    arrays = random_ssm_inputs(np.random.default_rng(seed), 2, seq_len, heads, 3, groups, 5)
    expected = numpy_recurrence(*arrays)
    tensors = [torch.from_numpy(a) for a in arrays]
    chunked = ssd_chunked(*tensors, chunk_size=chunk, state_block=block)
    assert chunked.shape == expected.shape
    assert rel_error(chunked, expected) <= 1e-10, f"seed {seed}"
    assert rel_error(ssd_sequential(*tensors), expected) <= 1e-10, f"seed {seed}"


def _pair(seed: int, **settings) -> tuple[Mamba2, Mamba2]:
    """The chunked and the sequential module with the same parameters (the same seed)."""
    torch.manual_seed(seed)
    chunked = Mamba2(scan="chunked", **settings)
    torch.manual_seed(seed)
    sequential = Mamba2(scan="sequential", **settings)
    for a, b in zip(chunked.parameters(), sequential.parameters(), strict=True):
        assert torch.equal(a, b)
    return chunked, sequential


def test_chunked_gradients_match_the_sequential_path_in_float64():
    seed = fresh_seed()
    settings = {"d_model": 32, "l_max": 64, "d_state": 8, "headdim": 16, "chunk_size": 8}
    chunked, sequential = _pair(seed, **settings)
    chunked, sequential = chunked.double(), sequential.double()
    generator = torch.Generator().manual_seed(seed)
    u = torch.randn(2, 37, 32, dtype=torch.float64, generator=generator)  # 5 chunks, padded
    upstream = torch.randn(2, 37, 32, dtype=torch.float64, generator=generator)
    grads = []
    for module in (chunked, sequential):
        x = u.clone().requires_grad_(True)
        y = module(x)
        y.backward(upstream)
        grads.append([y.detach(), x.grad, *(p.grad for p in module.parameters())])
    names = ["output", "input", *(name for name, _ in chunked.named_parameters())]
    for name, got, expected in zip(names, *grads, strict=True):
        assert rel_error(got, expected) <= 1e-8, f"{name}, seed {seed}"


@pytest.mark.parametrize("chunk_size", [256, 16])
def test_float32_forward_matches_the_float64_oracle(chunk_size):
    seed = fresh_seed()
    chunked, sequential = _pair(seed, d_model=64, l_max=512, d_state=16, chunk_size=chunk_size)
    u = torch.randn(2, 300, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = chunked(u)
        y_ref = sequential.double()(u.double())
    assert y.dtype == torch.float32
    assert rel_error(y, y_ref) <= 1e-4, f"seed {seed}"


def test_mamba2_through_the_workload_and_the_correctness_gate():
    w = Workload(op="ssm:mamba2", seq_len=300, d_model=64, d_state=16)
    module, u = w.instantiate()
    assert isinstance(module, Mamba2) and module.d_state == 16 and module.scan == "chunked"
    assert module(u).shape == u.shape == (1, 300, 64)
    result = check_workload(w)
    assert result.ok and result.independent, result
    assert result.oracle == "ssm:reference@float64" and result.checked_len == 300


def test_the_entries_and_their_oracle():
    reference, chunked, kernel = (
        registry.get(f"ssm:{impl}") for impl in ("reference", "mamba2", "mamba2-kernel")
    )
    assert reference.oracle is None and registry.FAMILY_ORACLES["ssm"] == reference.name
    assert chunked.oracle == kernel.oracle == "ssm:reference"
    assert {e.builder_params for e in (reference, chunked, kernel)} == {("d_state",)}
    colours = {e.colour for e in (reference, chunked, kernel)}
    others = {registry.get(n).colour for n in registry.names() if not n.startswith("ssm:")}
    assert len(colours) == 3 and not colours & others


def test_the_kernel_entry_is_unavailable_without_cuda_or_mamba_ssm():
    ok, reason = registry.check_available("ssm:mamba2-kernel", "cpu", torch.float32)
    assert not ok and ("mamba-ssm" in reason or "CUDA" in reason)


def test_d_state_zero_and_a_width_without_whole_heads_are_refused():
    with pytest.raises(pydantic.ValidationError, match="d_state"):
        PointParams(op="ssm:mamba2", d_state=0)
    with pytest.raises(pydantic.ValidationError, match="d_model must be a multiple of 32; got 48"):
        PointParams(op="ssm:mamba2", d_model=48)
    assert PointParams(op="ssm:mamba2", d_model=96, d_state=16).workload().d_state == 16
    with pytest.raises(ValueError, match="multiple of 32"):
        Mamba2(48, 64)


def test_the_flop_model_counts_the_matmuls_the_counter_sees():
    w = Workload("ssm:mamba2", batch=2, seq_len=600, d_model=64, d_state=16)  # 3 chunks, padded
    analytic, counted = analytic_flops(w, "fwd"), counted_flops(w, "fwd")
    matmuls = analytic["in_proj"] + analytic["out_proj"] + analytic["scan"]
    assert abs(matmuls - counted["matmul"]) <= 0.02 * counted["matmul"]


@pytest.mark.parametrize(("op", "seq_len"), [("ssm:mamba2", 600), ("ssm:reference", 40)])
def test_the_memory_model_is_within_10_percent_of_what_autograd_keeps(op, seq_len):
    w = Workload(op, batch=2, seq_len=seq_len, d_model=64, d_state=16)
    measured, model = saved_activation_bytes(w), analytic_activation_bytes(w)
    assert abs(model - measured) <= 0.10 * measured


def test_the_profile_names_each_stage():
    module, u = Workload("ssm:mamba2", seq_len=64, d_model=32, d_state=8).instantiate()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        module(u)
    seen = {e.name.removeprefix(PREFIX) for e in prof.events() if e.name.startswith(PREFIX)}
    assert seen == {"projections", "short conv", "long conv", "pointwise/gating", "norm"}
