"""Step detection in a benchmark's history: at which commit did its time change, and by how much?

**Model.** The benchmark's time at the i-th commit (commits in time order, i = 0..m−1), in
logs, is piecewise constant plus noise:

    y_i = ln t_i = μ_r + e_i     for j_{r−1} ≤ i < j_r,   r = 1..k,   0 = j_0 < … < j_k = m,

with e_i independent, of median 0 and one scale σ along the whole history (one machine, one
configuration). Logs make a step a ratio — a 20 % slowdown is the same step at 1 µs and at 1 s
— and timing noise is roughly multiplicative.

**Fit** (the Potts problem; the formulation of asv's step detection, after Friedrich et al.,
"Complexity penalized M-estimation", JCGS 17, 2008). The segments minimise

    γ·k + Σ_r Σ_{j_{r−1} ≤ i < j_r} |y_i − median(y_{j_{r−1}}, …, y_{j_r − 1})|,

an L1 cost, so that a wild commit pulls a level by at most one rank instead of by its size.
It is solved exactly by dynamic programming over where the last segment starts:
F(0) = 0, F(b) = min_a F(a) + cost(a, b) + γ. All O(m²) segment costs come from two heaps
per start in O(m² log m); the recursion is O(m²): milliseconds for a few hundred commits.
Every commit counts once, with no weight from its own spread: hyperf's timing model
(``hyperf.stats.bootstrap``) is that separate processes differ by more than each process's
own CI says, so a run's within-run spread says little about how far its median may sit from
the level.

**Penalty.** γ = β·σ̂·ln m, the Schwarz-criterion growth that asv derives for this cost (a
split must pay for its extra parameters, more so in a longer history where chance splits
have more places to hide), with σ̂ a robust noise scale from successive differences: within a
segment y_i − y_{i−1} = e_i − e_{i−1}, so σ̂ = median|Δy| / (√2·Φ⁻¹(¾)), consistent for
normal noise and moved by neither a few steps nor an outlier (each touches one or two of the
m − 1 differences). σ̂ is floored at ``NOISE_FLOOR`` so that an exactly repeated series
does not make every split free.

**Minimum segment length** 2: a level needs two commits. One wild commit (a contended run)
is then never a step: a two-commit segment holding it and a neighbour costs
|y_o − y_{o+1}| ≈ |y_o − μ|, what the outlier costs where it is, so isolating it gains only
noise-sized amounts and still pays 2γ. The price: a change at the newest commit is reported
once a second commit confirms it.

**Minimum step.** Adjacent levels less than ``MIN_CHANGE`` apart (a ratio below 1.05 either
way) are merged, closest first: between runs on different days a few per cent is noise,
whatever the penalty says.

Not modelled (asv does): autocorrelated noise, e.g. a machine's background load drifting.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

PENALTY_FACTOR = 3.0  # β in γ = β·σ̂·ln m
MIN_CHANGE = 0.05  # levels closer than this ratio (1.05 either way) are one level
MIN_LENGTH = 2  # commits per level
NOISE_FLOOR = 1e-3  # σ̂ never below 0.1 %: no history is steadier than that between runs


@dataclass(frozen=True)
class Segment:
    """Commits [start, end) at one level (in the input's units: the segment's median)."""

    start: int
    end: int
    level: float


@dataclass(frozen=True)
class Step:
    """A change of level at commit ``index`` (the first commit of the new level)."""

    index: int
    commit: str | None
    before: float
    after: float
    change: float  # after / before − 1


@dataclass(frozen=True)
class StepFit:
    segments: list[Segment]
    steps: list[Step]
    noise: float  # σ̂, in log units (≈ relative noise)
    gamma: float


def noise_scale(y: np.ndarray) -> float:
    """σ̂ = median|y_i − y_{i−1}| / (√2·Φ⁻¹(¾)), floored at ``NOISE_FLOOR`` (log units)."""
    if y.size < 2:
        return NOISE_FLOOR
    spread = float(np.median(np.abs(np.diff(y)))) / (math.sqrt(2) * scipy_stats.norm.ppf(0.75))
    return max(spread, NOISE_FLOOR)


def segment_costs(y: np.ndarray, min_length: int) -> np.ndarray:
    """cost[a, b] = Σ_{a ≤ i < b} |y_i − median(y[a:b])| for b − a ≥ ``min_length``, else ∞.

    For each start a the segment grows one point at a time; a max-heap holds its lower half
    and a min-heap its upper half, so with M = max(lower) (a median),
    cost = (Σ upper − |upper|·M) + (|lower|·M − Σ lower)."""
    m = y.size
    cost = np.full((m + 1, m + 1), np.inf)
    for a in range(m):
        lower: list[float] = []  # negated values: a max-heap
        upper: list[float] = []
        sum_lower = sum_upper = 0.0
        for b in range(a, m):
            value = float(y[b])
            if lower and value > -lower[0]:
                heapq.heappush(upper, value)
                sum_upper += value
            else:
                heapq.heappush(lower, -value)
                sum_lower += value
            if len(lower) > len(upper) + 1:  # keep |lower| = |upper| or |upper| + 1
                moved = -heapq.heappop(lower)
                heapq.heappush(upper, moved)
                sum_lower, sum_upper = sum_lower - moved, sum_upper + moved
            elif len(upper) > len(lower):
                moved = heapq.heappop(upper)
                heapq.heappush(lower, -moved)
                sum_lower, sum_upper = sum_lower + moved, sum_upper - moved
            if b + 1 - a >= min_length:
                middle = -lower[0]
                cost[a, b + 1] = sum_upper - len(upper) * middle + len(lower) * middle - sum_lower
    return cost


def solve_potts(y: np.ndarray, gamma: float, min_length: int = MIN_LENGTH) -> list[tuple[int, int]]:
    """The segments [start, end) minimising γ·k + Σ L1 cost, each at least ``min_length``
    long (exact dynamic programming). A series too short for two segments is one."""
    m = y.size
    if m < 2 * min_length:
        return [(0, m)] if m else []
    cost = segment_costs(y, min_length)
    best = np.full(m + 1, np.inf)
    best[0] = 0.0
    start_of = np.zeros(m + 1, dtype=int)
    for end in range(min_length, m + 1):
        starts = np.array([0, *range(min_length, end - min_length + 1)])
        totals = best[starts] + cost[starts, end]
        chosen = int(np.argmin(totals))
        best[end] = totals[chosen] + gamma
        start_of[end] = starts[chosen]
    segments = []
    end = m
    while end > 0:
        segments.append((int(start_of[end]), end))
        end = int(start_of[end])
    return segments[::-1]


def merge_small_steps(
    y: np.ndarray, segments: list[tuple[int, int]], min_change: float
) -> list[tuple[int, int]]:
    """Merge adjacent segments whose medians are less than ln(1 + ``min_change``) apart in
    ``y`` (log units), the closest pair first, until every step is at least that large."""
    segments = list(segments)
    threshold = math.log1p(min_change)
    while len(segments) > 1:
        levels = [float(np.median(y[s:e])) for s, e in segments]
        gaps = np.abs(np.diff(levels))
        closest = int(np.argmin(gaps))
        if gaps[closest] >= threshold:
            break
        segments[closest : closest + 2] = [(segments[closest][0], segments[closest + 1][1])]
    return segments


def detect_steps(
    values,
    commits: list[str] | None = None,
    *,
    factor: float = PENALTY_FACTOR,
    min_change: float = MIN_CHANGE,
    min_length: int = MIN_LENGTH,
) -> StepFit:
    """Segments and steps of a series of positive times in commit order (any unit; the
    levels and steps come back in it). ``commits`` names the points in the steps."""
    t = np.asarray(values, dtype=np.float64)
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("detect_steps needs a 1-D series of positive, finite times")
    y = np.log(t)
    noise = noise_scale(y)
    gamma = factor * noise * math.log(max(t.size, 2))
    spans = merge_small_steps(y, solve_potts(y, gamma, min_length), min_change)
    segments = [Segment(s, e, float(np.exp(np.median(y[s:e])))) for s, e in spans]
    steps = [
        Step(
            index=after.start,
            commit=commits[after.start] if commits is not None else None,
            before=before.level,
            after=after.level,
            change=after.level / before.level - 1,
        )
        for before, after in itertools.pairwise(segments)
    ]
    return StepFit(segments, steps, noise, gamma)
