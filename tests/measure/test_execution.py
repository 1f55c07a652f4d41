"""Execution modes: compile (CPU) and graph (CUDA) give eager's outputs and gradients; a
recompilation while sampling is counted and keeps the point out of every ranking; the bound
class says overhead, memory or compute on workloads built to be each."""

from __future__ import annotations

import itertools
import random
import time

import pandas as pd
import pytest
import torch

from hyperf.analysis.rank import RECOMPILED, mark_rankable
from hyperf.measure import execution
from hyperf.measure.ceilings import bound_class, roofline_bound
from hyperf.measure.correctness import TOLERANCES, check_exec, exec_error
from hyperf.measure.timing import TimingOptions, measure, time_workload
from hyperf.workload import Workload

CUDA = torch.cuda.is_available()
# One operator of each family, small enough for a 2-core CPU.
WORKLOADS = [
    {"op": "hyena:fft", "depth": 1},
    {"op": "hyena:blocked"},
    {"op": "attention:sdpa-flash", "n_heads": 2, "depth": 1},
    {"op": "attention:naive", "n_heads": 2, "causal": False},
    {"op": "longconv:fft"},
]


@pytest.mark.parametrize("mode", ["fwd", "fwd_bwd"])
@pytest.mark.parametrize("params", WORKLOADS, ids=lambda p: p["op"])
def test_compile_gives_eager_outputs_and_gradients(params, mode):
    seed = random.randrange(2**31)  # fresh inputs and parameters every run
    w = Workload(seq_len=128, d_model=32, exec="compile", **params)
    error = check_exec(w, mode, "cpu", seed=seed)
    assert error is not None and error <= TOLERANCES["float32"], (seed, error)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (CUDA graphs)")
@pytest.mark.parametrize("mode", ["fwd", "fwd_bwd"])
@pytest.mark.parametrize("params", WORKLOADS, ids=lambda p: p["op"])
def test_graph_gives_eager_outputs_and_gradients(params, mode):
    seed = random.randrange(2**31)
    w = Workload(seq_len=256, d_model=64, dtype="float16", exec="graph", **params)
    assert check_exec(w, mode, "cuda", seed=seed) <= TOLERANCES["float16"], seed


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (CUDA graphs)")
def test_graph_reproducing_an_fp16_overflow_is_not_wrong():
    """The paper's setting at 16K: fp16 parameter gradients overflow in eager (found on an
    H200, where every graph fwd_bwd point from 16K was called wrong); the replay agrees."""
    w = Workload(
        "hyena:fft", seq_len=16384, emb_dim=33, modulate=False, dtype="float16", exec="graph"
    )
    assert check_exec(w, "fwd_bwd", "cuda", seed=random.randrange(2**31)) <= 1e-2


def test_overflow_in_both_modes_agrees_and_in_one_does_not():
    """An element that overflows the same way in eager and in the exec mode agrees; one that
    overflows in only one of them, or with another sign, or as NaN against inf, does not."""
    g = torch.Generator().manual_seed(random.randrange(2**31))
    eager = torch.randn(64, 48, generator=g).half() * 1000
    eager[3, 5], eager[10, :4], eager[20, 7] = float("inf"), float("-inf"), float("nan")
    noise = 1 + 1e-3 * torch.randn(eager.shape, generator=g)
    got = (eager.float() * noise).half()  # the same overflow, finite values close to eager's
    assert 0 < exec_error(got, eager) < 1e-2  # 1e-3 noise, at most ~5 sigma
    assert exec_error(eager, eager) == 0.0
    for row, col, value in [(0, 0, "inf"), (3, 5, "-inf"), (20, 7, "inf"), (3, 5, "nan")]:
        bad = got.clone()
        bad[row, col] = float(value)
        assert exec_error(bad, eager) == float("inf"), (row, col, value)
    fixed = got.clone()
    fixed[3, 5] = 1.0  # eager overflowed, the exec mode did not
    assert exec_error(fixed, eager) == float("inf")


def test_graph_is_unavailable_on_the_cpu_with_the_reason():
    ok, reason = execution.available("graph", torch.device("cpu"), "fwd")
    assert not ok and "CUDA" in reason
    with pytest.raises(ValueError, match="CUDA"):
        time_workload(Workload("hyena:fft", seq_len=64, d_model=16, exec="graph"), "fwd")
    ok, reason = execution.available("graph", torch.device("cuda"), "bwd")
    assert not ok and "bwd" in reason


def test_compile_puts_compilation_in_the_first_call_and_times_the_compiled_step():
    w = Workload("hyena:fft", seq_len=128, d_model=16, exec="compile")
    options = TimingOptions(budget_s=0.1, min_samples=5, device_steps=2)
    torch._dynamo.reset()  # compile afresh: a cache from an earlier test would hide it
    m = time_workload(w, "fwd", "cpu", options)
    assert m.exec == "compile" and m.recompiled == 0
    # Compiling (dynamo's trace, inductor's code) takes far longer than a compiled step, and
    # well over 100 ms on any machine; a step here takes about a millisecond.
    assert m.first_call_ms > max(100.0, 5 * m.stats.min)
    assert m.device_time["device_ms"] > 0 and m.device_time["events"] > 0


def test_a_recompilation_while_sampling_is_counted_and_the_point_is_not_ranked():
    compiled = torch.compile(lambda x: (x * 2).sum(), dynamic=False)
    lengths = itertools.count(8)
    torch._dynamo.reset()
    # A new shape on every call: each one recompiles (until dynamo's cache limit).
    m = measure(
        lambda: compiled(torch.ones(next(lengths))),
        mode="infer",
        exec="compile",
        options=TimingOptions(budget_s=0.05, min_samples=3, min_warmup_calls=1, warmup_s=0),
    )
    assert m.recompiled >= 1 and any("recompiled" in n for n in m.notes)
    marked = mark_rankable(pd.DataFrame({"status": ["ok", "ok"], "recompiled": [m.recompiled, 0]}))
    assert marked["rankable"].tolist() == [False, True]
    assert marked["not_ranked_because"].iloc[0] == RECOMPILED


def _python_heavy() -> torch.Tensor:
    """A step that is mostly Python: a little tensor work between long stretches of it."""
    x = torch.ones(4)
    for _ in range(20):
        deadline = time.perf_counter() + 50e-6
        while time.perf_counter() < deadline:
            pass
        x = x + 1
    return x


def test_bound_class_overhead_memory_and_compute():
    options = TimingOptions(budget_s=0.2, min_samples=5, device_steps=3)
    ceilings = {"peak": 1e11, "bandwidth": 1e10}  # a ridge at 10 FLOP/byte
    cases = {}
    n = 384
    a = torch.randn(n, n)
    big = torch.randn(2**22)
    out = torch.empty_like(big)
    work = {
        "overhead": (_python_heavy, 20.0, 20 * 4 * 4 * 2.0),
        "compute": (lambda: a @ a, 2.0 * n**3, 3 * n * n * 4.0),
        "memory": (lambda: out.copy_(big), 0.0, 2 * big.numel() * 4.0),
    }
    for expected, (fn, flops, moved) in work.items():
        m = measure(fn, mode="infer", options=options)
        floor = roofline_bound(flops, moved, ceilings["peak"], ceilings["bandwidth"])
        device_s = m.device_time["device_ms"] / 1e3
        cases[expected] = bound_class(m.stats.median / 1e3, device_s, floor)
    assert cases == {"overhead": "overhead", "compute": "compute", "memory": "memory"}
