"""The timer: what each mode puts inside the clock, warm-up, adaptive stopping, bad input."""

from __future__ import annotations

import time

import pytest
import torch

from hyperf.measure.timing import TimingOptions, measure, time_workload
from hyperf.workload import Workload

FAST = TimingOptions(budget_s=0.3, warmup_s=0.0, min_warmup_calls=1)


class SlowBackward(torch.autograd.Function):
    """Identity whose forward sleeps ``fwd_s`` and backward sleeps ``bwd_s``."""

    @staticmethod
    def forward(ctx, x, fwd_s, bwd_s):
        time.sleep(fwd_s)
        ctx.bwd_s = bwd_s
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        time.sleep(ctx.bwd_s)
        return grad, None, None


def timed(mode: str, fwd_s: float, bwd_s: float) -> float:
    x = torch.randn(8, requires_grad=True)
    m = measure(
        lambda: SlowBackward.apply(x, fwd_s, bwd_s),
        mode=mode,
        grad_inputs=(x,),
        options=TimingOptions(budget_s=0.2, min_samples=5, warmup_s=0, min_warmup_calls=1),
    )
    return m.stats.median


def test_modes_put_forward_and_backward_where_they_say():
    fwd, bwd = 0.004, 0.016  # seconds; sleeps are at least this long
    infer, forward = timed("infer", fwd, bwd), timed("fwd", fwd, bwd)
    backward, both = timed("bwd", fwd, bwd), timed("fwd_bwd", fwd, bwd)
    assert 4 <= infer < 16 and 4 <= forward < 16  # the backward's 16 ms is not inside
    assert 16 <= backward < 20  # the forward's 4 ms is not inside
    assert both >= 20


def test_gradients_do_not_accumulate_between_samples():
    w = torch.randn(4, 4, requires_grad=True)
    x = torch.randn(3, 4)
    m = measure(lambda: (x @ w).sum() * 1.0, mode="fwd_bwd", params=(w,), options=FAST)
    assert m.stats.n >= 5
    assert w.grad is None  # reset after the last sample too
    (x @ w).sum().backward()
    torch.testing.assert_close(w.grad, x.sum(0).unsqueeze(1).expand(4, 4))


def test_first_call_is_recorded_apart_and_warmup_runs():
    calls = []

    def fn():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.05)  # a plan / compilation on the first call only
        return torch.zeros(1)

    m = measure(
        fn, mode="infer", options=TimingOptions(budget_s=0.1, min_warmup_calls=3, warmup_s=0.02)
    )
    assert m.first_call_ms >= 50 > m.stats.max
    assert m.warmup_calls >= 3
    assert len(calls) == 1 + m.warmup_calls + m.stats.n


def test_stops_on_ci_or_budget_and_respects_minimum():
    quick = measure(
        lambda: torch.ones(1000).sum(),
        mode="infer",
        options=TimingOptions(budget_s=5.0, target_rel_ci=0.5),
    )
    assert quick.stats.n >= 5 and quick.stats.rel_ci_halfwidth <= 0.5 and quick.wall_s < 5
    slow = measure(
        lambda: time.sleep(0.03),
        mode="infer",
        options=TimingOptions(budget_s=0.01, target_rel_ci=1e-9, warmup_s=0, min_warmup_calls=0),
    )
    assert slow.stats.n == 5  # the budget ran out, the minimum still holds
    capped = measure(
        lambda: None,
        mode="infer",
        options=TimingOptions(budget_s=5.0, target_rel_ci=1e-12, max_samples=40),
    )
    assert capped.stats.n == 40


def test_threads_are_set_and_restored():
    before = torch.get_num_threads()
    m = measure(lambda: None, mode="infer", options=TimingOptions(budget_s=0.05, threads=1))
    assert m.threads == 1 and torch.get_num_threads() == before


def test_time_workload_all_modes_on_cpu():
    w = Workload("hyena:fft", batch=1, seq_len=64, d_model=16)
    for mode in ("infer", "fwd", "bwd", "fwd_bwd"):
        m = time_workload(w, mode, "cpu", FAST)
        assert m.mode == mode and m.stats.median > 0 and len(m.samples_ms) == m.stats.n
        assert not m.interpreted
    assert time_workload(w, "fwd", "cpu", FAST, interpreted=True).notes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": 0}, "seconds\n  Input should be greater than 0"),
        ({"budget_s": -1}, "budget_s\n  Input should be greater than 0"),
        ({"min_samples": 0}, "min_samples\n  Input should be greater than or equal to 1"),
        ({"max_samples": 2, "min_samples": 5}, "max_samples"),
        ({"threads": 0}, "threads\n  Input should be greater than or equal to 1"),
        ({"warmup_calls": -1}, "warmup_calls\n  Input should be greater than or equal to 0"),
        ({"surprise": 1}, "surprise\n  Extra inputs are not permitted"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TimingOptions(**kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="fn must be callable"):
        measure(42, mode="fwd")
    with pytest.raises(ValueError, match="mode must be one of infer, fwd, bwd, fwd_bwd"):
        measure(lambda: None, mode="backward")
    with pytest.raises(ValueError, match="requires grad"):
        measure(lambda: torch.zeros(1), mode="bwd", options=FAST)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            measure(lambda: None, device="cuda")
    with pytest.raises(ValueError, match="device must be"):
        measure(lambda: None, device="tpu")
