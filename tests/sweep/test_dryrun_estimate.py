"""The dry run's wall-time estimate: fixed costs per point around the kernels' time, its
constants fitted to stored runs (a pure function, checked on synthetic stage times), and a
plausible uncalibrated figure for a tiny real sweep."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time

import pytest

from hyperf.sweep import estimate
from hyperf.sweep.estimate import STAGE_MULTIPLIERS, Costs, StoredRepeat, StoredRun, fit_costs

BUDGET = {"seconds": 0.2, "min_samples": 5, "max_samples": 10_000, "warmup_calls": 1}
KINDS = [("hyena:fft", "fwd"), ("attention:naive", "fwd_bwd")]


def synthetic(rng: random.Random, truth: dict, efficiency: dict, noise: float = 0.02):
    """Repeats and runs whose stage times follow the model with constants ``truth`` (each
    time off by up to ``noise`` relative), a few of them inflated as contended ones are."""
    repeats, runs, retried = [], [], 0.0
    for run_id in (1, 2):
        staged = 0.0
        for index in range(40):
            op, mode = KINDS[index % 2]
            step = rng.uniform(0.001, 0.5)
            for repeat in range(3):
                jitter = 1 + rng.uniform(-noise, noise)
                stage_s = {
                    "timing": (truth["timing"] + estimate.timing_seconds(step, BUDGET)) * jitter
                }
                if repeat == 0:
                    for stage in ("check", "memory"):
                        stage_s[stage] = (truth[stage] + STAGE_MULTIPLIERS[stage] * step) * jitter
                attempts = 1
                if rng.random() < 0.05:  # contended: re-timed, far longer
                    attempts, longer = 3, stage_s["timing"] * rng.uniform(2, 9) + 3.0
                    stage_s["timing"] += longer
                    retried += longer
                staged += sum(stage_s.values())
                repeats.append(
                    StoredRepeat(
                        run_id=run_id,
                        point_id=f"r{run_id}p{index}",
                        op=op,
                        mode=mode,
                        repeat=repeat,
                        step_s=step * jitter,
                        stage_s=stage_s,
                        budget=BUDGET,
                        roofline_s=step * efficiency[(op, mode)],
                        attempts=attempts,
                    )
                )
        duration = staged + 3 * Costs().worker_start_s + 120 * truth["overhead"]
        runs.append(StoredRun(run_id, duration, 120, 3))
    return repeats, runs, retried / len(repeats)


def test_fit_costs_recovers_the_constants_of_synthetic_stage_times():
    rng = random.Random()
    truth = {
        "check": rng.uniform(0.02, 0.5),
        "memory": rng.uniform(0.02, 0.5),
        "timing": rng.uniform(0.005, 0.2),
        "overhead": rng.uniform(0.005, 0.1),
    }
    efficiency = {kind: rng.uniform(0.1, 3.0) for kind in KINDS}
    repeats, runs, retry_s = synthetic(rng, truth, efficiency)
    costs = fit_costs(repeats, runs)
    # The noise is ±2 % of each stage, multiplier × step included: the fixed parts come back
    # to within that noise relative to the stage's typical size.
    for stage in ("check", "memory"):
        assert costs.stage_fixed_s[stage] == pytest.approx(truth[stage], abs=0.02 * 0.5 + 0.01)
    assert costs.timing_fixed_s == pytest.approx(truth["timing"], abs=0.02 * 0.6 + 0.01)
    for kind, value in efficiency.items():
        assert costs.efficiency_by_kind[kind] == pytest.approx(value, rel=0.05)
    assert costs.stage_fixed_s["flops"] == Costs().stage_fixed_s["flops"]  # no data: default
    # The contended repeats land in the overhead of their run only through its duration,
    # which also holds their stage times: the per-repeat overhead comes back.
    assert costs.repeat_overhead_s == pytest.approx(truth["overhead"], rel=0.05, abs=0.002)
    # Re-timed repeats: their extra time, spread over every repeat.
    assert costs.retry_s == pytest.approx(retry_s, rel=0.1, abs=0.01)
    assert len(costs.measured_step_s) == 80  # every point, of both runs


def test_fit_costs_without_data_keeps_the_defaults():
    base = Costs(worker_start_s=7.0)
    assert fit_costs([], [], base) is base
    quiet = estimate.sweep_seconds([(1e-3, {**BUDGET, "retries": 0})], base, False, False)
    busy = estimate.sweep_seconds([(1e-3, BUDGET)], base, False, False)
    assert busy == pytest.approx(quiet + base.retry_s)  # no retries: no retry cost


def test_the_model_counts_fixed_costs_stages_and_the_budget():
    costs = Costs()
    tiny = estimate.sweep_seconds([(1e-4, {**BUDGET, "repeats": 3})], costs, True, False)
    # Three passes, each a worker start, plus the driver's start and the budget thrice.
    assert tiny >= costs.driver_start_s + 3 * costs.worker_start_s + 3 * BUDGET["seconds"]
    more = estimate.sweep_seconds([(1e-4, {**BUDGET, "repeats": 3})], costs, True, True)
    assert more > tiny  # counting FLOPs costs time
    long = estimate.sweep_seconds([(1.0, {**BUDGET, "repeats": 1})], costs, False, False)
    assert long >= 7 * 1.0  # first call, one warm-up call, five samples


def test_a_profiled_point_costs_its_profiler_steps_once():
    """Profiling runs after repeat 0 only: wait + warm-up + active steps and a fixed cost."""
    costs = Costs()
    budget = {**BUDGET, "repeats": 3}
    plain = estimate.sweep_seconds([(0.5, budget)], costs, False, False)
    profiled = estimate.sweep_seconds([(0.5, budget, True)], costs, False, False)
    extra = costs.stage_fixed_s["profile"] + 6 * 0.5  # 1 wait + 2 warm-up + 3 active steps
    assert profiled - plain == pytest.approx(extra)


SPEC = """
name: tiny
device: cpu
ops: [hyena:fft]
modes: [fwd]
axes: {seq_len: [64, 128], d_model: [16]}
budget: {seconds: 0.05, min_samples: 3, warmup_s: 0, warmup_calls: 1, repeats: 1, retries: 0}
measure_memory: true
count_flops: false
"""


def _predicted_s(output: str) -> float:
    value, unit = re.search(r"predicted sweep time about ([\d.,]+) (s|min)\n", output).groups()
    return float(value.replace(",", "")) * (60 if unit == "min" else 1)


def test_uncalibrated_estimate_is_plausible_and_a_stored_run_calibrates_it(write_spec, tmp_path):
    path, db = write_spec(SPEC), tmp_path / "t.db"
    hyperf = [sys.executable, "-m", "hyperf.cli"]
    dry = subprocess.run(
        [*hyperf, "sweep", str(path), "--dry-run", "--db", str(tmp_path / "none.db")],
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stderr
    assert "constants defaults for cpu" in dry.stdout
    started = time.perf_counter()
    real = subprocess.run(
        [*hyperf, "sweep", str(path), "--db", str(db), "--quiet"], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    assert real.returncode == 0, real.stderr
    # Within a factor of 2 (a loose bound: the machine may be busy).
    assert wall / 2 <= _predicted_s(dry.stdout) <= 2 * wall

    from hyperf.sweep.dryrun import print_plan
    from hyperf.sweep.spec import load_spec

    spec, _ = load_spec(path)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_plan(spec, "cpu", db=str(db))
    assert f"calibrated from 2 stored points of run 1 in {db}" in out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("2 points; predicted sweep time about")

    # Resuming the finished run: nothing is left to measure, and the estimate says so.
    resumed = subprocess.run(
        [*hyperf, "sweep", str(path), "--dry-run", "--db", str(db), "--resume"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run 1" in resumed.stdout
    assert "2 of 2 points already stored; the rest: 0" in resumed.stdout
    assert _predicted_s(resumed.stdout) < _predicted_s(dry.stdout)
