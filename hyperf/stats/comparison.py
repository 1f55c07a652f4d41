"""Two sets of timing samples compared — BASE and NEW, as the regression gate
(``hyperf.bench.gate``) compares a benchmark across two runs: the effect, its CI and a test.
Pure functions, documented by their maths and assumptions.

**Effect.** r = median(NEW) / median(BASE), the ratio of medians (times are right-skewed; the
median ignores the interrupts and cache misses that drag the mean).

**One process a side** (``samples_ratio``). The samples of one side are treated as independent
draws from one distribution of times. They are not quite: they come from one process and share
its state (``hyperf.stats.bootstrap``: process medians differ by 4–8 % on a quiet 2-core machine
while each process's own CI is ±2–3 %). So a p-value here answers "did these two processes
differ?", not "did the code change?"; the gate's relative threshold must absorb the drift.

- CI of r: percentile bootstrap at level c, r* = median(NEW*) / median(BASE*) over
  ``BOOTSTRAP_REPLICATES`` replicates, each side resampled independently with replacement
  (medians drawn exactly, ``bootstrap_medians``), with a fixed seed so the same samples always
  give the same interval. Below about 20 samples per side the percentile interval of a median
  covers less than it says (0.90–0.94 for a nominal 0.95, ``hyperf.stats.sample``); there the
  test, exact for small samples, is the stricter guard.
- Test: Mann–Whitney U, two-sided (scipy's exact distribution for small samples without ties,
  the normal approximation with tie correction otherwise), H0: a NEW sample is as likely to be
  above a BASE sample as below. Two-sided at alpha, with the direction read from r, is testing
  each direction at alpha / 2.

**Several processes a side** (``processes_ratio``, both sides with R ≥ 2): the processes are
the independent units. r is the ratio of the centres (geometric means of the process medians),
its CI the percentiles of the difference of the two sides' two-level bootstrap replicates
(``hyperf.stats.bootstrap.log_replicates``: processes resampled, then samples within each,
widened to Student's t with R − 1 degrees of freedom), and the test is Welch's t-test on the
log process medians (assumption: those are roughly normal).

**Many benchmarks at once** (``holm_adjusted``). A gate compares m benchmarks and fails if
any regressed, so the error that matters is the familywise one: the chance that a rerun of
the same code flags anything. Each test at alpha gives about m·alpha of it (18 benchmarks at
0.01: one rerun in six). Holm's step-down adjustment controls it at alpha under any
dependence between the tests: with p-values sorted p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted value of
p₍ᵢ₎ is max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎).

**History as the noise model** (``history_spread``, ``history_ratio``: one process, or one
run, on a side). Within-run samples say nothing about how far a whole run's median moves
between runs, so a one-process comparison on its own can never show a regression (the gate
calls it inconclusive). Earlier runs of the same benchmark on the same machine can: with
x_j = log of run j's time (its centre), runs in time order, the model is

    x_j = μ_s + a_j,     a_j ~ N(0, σ²) independent,

with μ_s constant within each segment s the step detector finds (``hyperf.stats.steps``: a
real past change is a new level, not noise). σ̂² is the pooled within-segment variance,
ν = n − (number of segments) degrees of freedom. With few runs it is pulled towards a prior,
σ² = (ν₀·σ₀² + ν·σ̂²) / (ν₀ + ν), σ₀ = ``PRIOR_SPREAD`` (8 %: the process-to-process spread
measured on a quiet 2-core machine, issue 10) worth ν₀ = ``PRIOR_DOF`` = 1 run; fewer than
``MIN_HISTORY_RUNS`` = 3 runs are no history at all. BASE and NEW are each one more run:
d = x_NEW − x_BASE has standard error σ·√2, its CI is exp(d ± t(ν₀ + ν, (1 + c)/2)·σ·√2) and
the two-sided p-value Student's t with ν₀ + ν degrees of freedom. Assumptions: runs are
independent (no drift that lasts over several runs), and the compared files are runs of the
kind the history holds (one process each, the same settings).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

from hyperf.stats.bootstrap import bootstrap_medians, centre, log_replicates
from hyperf.stats.sample import percentile_interval

BOOTSTRAP_REPLICATES = 10_000
BOOTSTRAP_SEED = 20_240_917
PRIOR_SPREAD = 0.08  # σ₀: run-to-run spread (log units) assumed before any history
PRIOR_DOF = 1  # ν₀: the prior counts as one run's worth of evidence
MIN_HISTORY_RUNS = 3  # fewer stored runs are no history


def median_ratio_ci(
    base_sorted: np.ndarray,
    new_sorted: np.ndarray,
    confidence: float,
    seed: int = BOOTSTRAP_SEED,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(NEW) / median(BASE) at ``confidence`` (each
    side's samples sorted)."""
    rng = np.random.default_rng(seed)
    ratios = bootstrap_medians(new_sorted, replicates, rng) / bootstrap_medians(
        base_sorted, replicates, rng
    )
    return percentile_interval(ratios, confidence)


def mann_whitney_p(base: np.ndarray, new: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value; 1.0 when every sample is tied (nothing to test)."""
    p = float(scipy_stats.mannwhitneyu(new, base, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


def samples_ratio(
    base_sorted: np.ndarray, new_sorted: np.ndarray, confidence: float, seed: int
) -> tuple[float, float, float, float]:
    """(ratio of medians, CI low, CI high, Mann–Whitney p) for one process a side."""
    ratio = float(np.median(new_sorted)) / float(np.median(base_sorted))
    low, high = median_ratio_ci(base_sorted, new_sorted, confidence, seed=seed)
    return ratio, low, high, mann_whitney_p(base_sorted, new_sorted)


def processes_ratio(
    base: Sequence[np.ndarray],
    new: Sequence[np.ndarray],
    confidence: float,
    seed: int,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> tuple[float, float, float, float]:
    """(ratio of centres, CI low, CI high, Welch p) with processes as the independent units:
    the two-level bootstrap of each side (NEW first, from one stream seeded by ``seed``)."""
    rng = np.random.default_rng(seed)
    ratio = centre(new) / centre(base)
    log_ratios = log_replicates(new, replicates, rng, confidence) - log_replicates(
        base, replicates, rng, confidence
    )
    low, high = np.exp(percentile_interval(log_ratios, confidence))
    log_medians = [np.log([np.median(x) for x in side]) for side in (new, base)]
    p = float(scipy_stats.ttest_ind(*log_medians, equal_var=False).pvalue)
    return ratio, float(low), float(high), 1.0 if math.isnan(p) else p


def history_spread(
    log_times: Sequence[float], segments: Sequence[tuple[int, int]]
) -> tuple[float, int]:
    """(σ̂, ν): the pooled within-segment standard deviation of runs' log times and its
    degrees of freedom (runs minus segments); ``segments`` are [start, end) spans covering
    ``log_times`` (``hyperf.stats.steps``). σ̂ is 0 with ν = 0 when no segment holds two runs."""
    x = np.asarray(log_times, dtype=float)
    squares = sum(float(np.sum((x[a:b] - x[a:b].mean()) ** 2)) for a, b in segments)
    dof = len(x) - len(segments)
    return (math.sqrt(squares / dof), dof) if dof > 0 else (0.0, 0)


def history_ratio(
    base_log: float, new_log: float, spread: float, dof: int, confidence: float
) -> tuple[float, float, float, float]:
    """(ratio, CI low, CI high, p) of one run a side against the history's run-to-run spread
    ``spread`` (σ̂, log units) on ``dof`` degrees of freedom, the prior mixed in."""
    total_dof = PRIOR_DOF + dof
    variance = (PRIOR_DOF * PRIOR_SPREAD**2 + dof * spread**2) / total_dof
    error = math.sqrt(2 * variance)
    difference = new_log - base_log
    t = float(scipy_stats.t.ppf(0.5 + confidence / 2, total_dof))
    p = float(2 * scipy_stats.t.sf(abs(difference) / error, total_dof))
    return (
        math.exp(difference),
        math.exp(difference - t * error),
        math.exp(difference + t * error),
        p,
    )


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order (the familywise error of
    rejecting every adjusted p < alpha is at most alpha)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
