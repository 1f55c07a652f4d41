"""Profiler regions: each operator's stages show up under torch.profiler in Algorithm 3's
terms, once each (no region inside another), and marking them changes no number."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile

from hyperf import registry
from hyperf.ops.regions import CATEGORIES, PREFIX, region
from hyperf.workload import Workload

SHAPE = {"batch": 2, "seq_len": 64, "d_model": 32}
HYENA_STAGES = {"projections", "short conv", "filter generation"}
FFT_STAGES = {"fft forward", "pointwise/gating", "fft inverse"}
# long conv without separate stages, plus the gates done in torch (or the final y = v ⊙ x⁰).
UNSTAGED = {"long conv", "pointwise/gating"}

# The categories each workload's forward runs, spelled out per operator.
EXPECTED = {
    "hyena:fft": (Workload("hyena:fft", **SHAPE), HYENA_STAGES | FFT_STAGES),
    "hyena:fft paper": (Workload("hyena:fft", variant="paper", **SHAPE), HYENA_STAGES | FFT_STAGES),
    "hyena:blocked": (Workload("hyena:blocked", **SHAPE), HYENA_STAGES | UNSTAGED),
    "hyena:reference": (Workload("hyena:reference", **SHAPE), HYENA_STAGES | UNSTAGED),
    "hyena:triton": (Workload("hyena:triton", **SHAPE), HYENA_STAGES | UNSTAGED),
    "attention:sdpa-math": (
        Workload("attention:sdpa-math", n_heads=2, **SHAPE),
        {"projections", "attention core"},
    ),
    "attention:naive": (
        Workload("attention:naive", n_heads=2, **SHAPE),
        {"projections", "attention core"},
    ),
    "depth-1 hyena:fft": (
        Workload("hyena:fft", depth=1, **SHAPE),
        HYENA_STAGES | FFT_STAGES | {"norm", "mlp"},
    ),
    "longconv:fft": (Workload("longconv:fft", **SHAPE), FFT_STAGES),
    "longconv:blocked": (Workload("longconv:blocked", **SHAPE), {"long conv"}),
}
MODES = ("fwd", "fwd_bwd")


def _skip_unavailable(workload: Workload) -> None:
    name = workload.op.replace("hyena:", "longconv:")
    ok, reason = registry.get(name).available(torch.device("cpu"), torch.float32)
    if not ok:
        pytest.skip(reason)


def _step(workload: Workload, mode: str) -> list[torch.Tensor]:
    """Build from a fixed seed and run one step: the output, then (fwd_bwd) every gradient."""
    module, u = workload.instantiate("cpu", seed=0, requires_grad=mode == "fwd_bwd")
    out = module(u)
    if mode == "fwd":
        return [out]
    out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(1)))
    return [out, u.grad, *(p.grad for p in module.parameters())]


def _profiled(workload: Workload, mode: str) -> tuple[list[torch.Tensor], list[FunctionEvent]]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        results = _step(workload, mode)
    return results, list(prof.events())


def _regions(events: list[FunctionEvent]) -> list[FunctionEvent]:
    return [e for e in events if e.name.startswith(PREFIX)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(EXPECTED))
def test_the_profile_names_every_stage_the_operator_runs(case, mode):
    workload, expected = EXPECTED[case]
    _skip_unavailable(workload)
    _, events = _profiled(workload, mode)
    seen = {e.name.removeprefix(PREFIX) for e in _regions(events)}
    assert seen <= set(CATEGORIES), f"not a category: {seen - set(CATEGORIES)}"
    assert seen == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(EXPECTED))
def test_no_region_lies_inside_another(case, mode):
    workload, _ = EXPECTED[case]
    _skip_unavailable(workload)
    _, events = _profiled(workload, mode)
    regions = _regions(events)
    assert regions
    for event in regions:
        parent = event.cpu_parent
        while parent is not None:
            assert not parent.name.startswith(PREFIX), f"{event.name} inside {parent.name}"
            parent = parent.cpu_parent


@pytest.mark.parametrize("variant", ["safari", "paper"])
def test_one_fft_stage_per_long_convolution(variant):
    workload = Workload("hyena:fft", variant=variant, order=3, **SHAPE)
    _, events = _profiled(workload, "fwd")
    counts = Counter(e.name.removeprefix(PREFIX) for e in _regions(events))
    long_convs = 2 if variant == "safari" else 3  # N − 1 and N at order 3
    assert counts["fft forward"] == counts["fft inverse"] == long_convs
    assert counts["projections"] == 2  # in_proj and out_proj
    assert counts["filter generation"] == counts["short conv"] == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(EXPECTED))
def test_regions_change_no_number(case, mode):
    workload, _ = EXPECTED[case]
    _skip_unavailable(workload)
    plain = _step(workload, mode)
    profiled, _ = _profiled(workload, mode)
    assert len(plain) == len(profiled)
    for a, b in zip(plain, profiled, strict=True):
        assert torch.equal(a, b)


def test_without_a_profiler_a_region_is_one_shared_no_op():
    assert region("projections") is region("long conv")
    with region("projections"), region("projections"):  # re-entrant
        pass
