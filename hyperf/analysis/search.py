"""Where does operator A overtake operator B? The adaptive search's maths: pure functions over
the probes measured so far, deciding the next length and when to stop.

**What is estimated.** With t_A(L), t_B(L) the two operators' times (the centre of each
point's processes, ``hyperf.stats.bootstrap.centre``) and x = log L, the crossover is the root
L* = exp(x*) of d(x) = log t_A − log t_B, where A and B swap places.

**Assumptions.** (1) d is monotone in x over [lmin, lmax], so there is at most one crossing
and the first sign change between probes brackets it. (2) Near L*, d is close to a straight
line in x (both times close to power laws over a factor of ``WINDOW`` either side), so a
least-squares line through the probes near L* places it. (3) The time at L is the operator's
time at a length it handles at full speed: probes are 5-smooth integers (2^a·3^b·5^c, see
``smooth_length``), because a Hyena FFT of 2L points runs its slow (Bluestein) path when 2L has
a large prime factor, and that would be the library's cost, not the operator's curve.
Backends that pad to a power of two (blocked/Monarch, the Triton kernel) have a staircase for
a curve; the line then describes the staircase's trend, and the interval says how well.

**Bracket.** Probes at lmin, 4·lmin, 16·lmin, … (the last one lmax) until the sign of d
changes; if it never does, "A is faster everywhere in [lmin, lmax]" (or B) is the answer, with
the ratio at every probe as its evidence.

**Refine.** The probes within a factor ``WINDOW`` of the current estimate (at least the two
bracketing ones) are fitted by a line d = α + β·x; x* = −α/β. Its 95 % interval is the
equal-tailed percentile interval of the roots of the same fit on two-level bootstrap
replicates of every probe (``hyperf.stats.bootstrap.log_replicates``: processes, then
samples, widened for few processes) — the replicate resampling of the sweep's crossovers, over
the probes near the crossing. A replicate whose line does not cross inside the window (β of
the wrong sign, or a root outside it) counts against the crossing: below ``RESOLVED_SHARE`` of
replicates crossing, there is no interval. The next probe goes where it narrows the interval
most for a line: at the estimate while no probe lies within ``tol``/2 of it (it anchors the
fit at the root), else at the length of the local window farthest from every probe (the
interval's ends and the window's edges give the line leverage; midpoints between probes add
points that average the noise down). Stop when the half-width (high − low)/2 ≤ tol·L*;
after ``MAX_PROBES`` probes or when every useful length is probed (the noise of the times
then sets the width: more processes or a longer sampling budget narrow it); or when the
budget is spent. A search that stops unresolved says how wide its interval got.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from pydantic import ValidationError

from hyperf.analysis.rank import mark_rankable
from hyperf.params import MAX_SEQ_LEN
from hyperf.stats.bootstrap import centre, log_replicates
from hyperf.stats.sample import percentile_interval
from hyperf.sweep.spec import SearchSpec

Repeats = list[list[float]]  # one point's raw samples (ms), one list per process
BRACKET_STEP = 4  # the bracket's geometric step in L
WINDOW = 2.0  # probes within this factor of the estimate enter its fit
MAX_PROBES = 16  # lengths per search, bracket included
RESOLVED_SHARE = 0.95  # replicates that must cross for the interval to mean anything
RESAMPLES = 2000
SEED = 0  # fixed: the same probes give the same decision, so a resumed search continues


@dataclass(frozen=True)
class Probe:
    """Both operators measured at one length: their raw samples per process (ms)."""

    seq_len: int
    a: Repeats
    b: Repeats

    @property
    def log_ratio(self) -> float:
        """d = log t_A − log t_B at this length (< 0: A is faster)."""
        return math.log(centre(self.a)) - math.log(centre(self.b))


@dataclass(frozen=True)
class Estimate:
    """Where the search stands: the crossing (None where there is none or not yet), its
    interval (None until resolved), and what to do next (``next_len`` None: stop)."""

    verdict: str  # "searching", "resolved", "a faster everywhere", "b faster everywhere",
    # "not resolved"
    crossover_L: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    share: float | None = None  # replicates that cross inside the window
    fitted: list[int] = field(default_factory=list)  # the lengths the estimate's line used
    next_len: int | None = None
    note: str = ""

    @property
    def half_width(self) -> float | None:
        """(high − low)/2 relative to L*, the quantity ``tol`` bounds."""
        if self.ci_low is None or self.ci_high is None or not self.crossover_L:
            return None
        return (self.ci_high - self.ci_low) / 2 / self.crossover_L


def probes_of(
    points: pd.DataFrame, samples: dict[tuple[int, str], Repeats], a: str, b: str
) -> tuple[list[Probe], dict[int, str]]:
    """One search run's probes from its stored points: those where both operators' points
    are rankable (``hyperf.analysis.rank``: checked, compiled, uncontended), and for every
    other length why not (e.g. 'attention:naive: status oom')."""
    if points.empty:
        return [], {}
    marked = mark_rankable(points)
    probes, unusable = [], {}
    for length, group in marked.groupby("seq_len"):
        rows = {row.op: row for row in group.itertuples()}
        if a not in rows or b not in rows:
            continue  # the other half of the probe is still being measured
        why = [f"{op}: {rows[op].not_ranked_because}" for op in (a, b) if not rows[op].rankable]
        if why:
            unusable[int(length)] = "; ".join(why)
            continue
        run_id = int(rows[a].run_id)
        probes.append(
            Probe(int(length), samples[(run_id, rows[a].point_id)],
                  samples[(run_id, rows[b].point_id)])
        )  # fmt: skip
    return probes, unusable


@dataclass(frozen=True)
class SearchState:
    """A search run's state from its stored points: the usable probes, the lengths that could
    not be measured and why, the end of the range still usable, and the estimate there."""

    estimate: Estimate
    probes: list[Probe]
    unusable: dict[int, str]
    lmax: int
    note: str = ""


def search_state(
    points: pd.DataFrame,
    samples: dict[tuple[int, str], Repeats],
    a: str,
    b: str,
    tol: float,
    lmin: int,
    lmax: int,
) -> SearchState:
    """Where a search over ``points`` (one run's) stands: ``estimate`` over its usable probes.

    A length that could not be measured (out of memory, too slow, wrong) beyond every usable
    probe ends the range below it; one inside the probed range ends the search, which cannot
    go around it."""
    probes, unusable = probes_of(points, samples, a, b)
    if not unusable:
        return SearchState(estimate(probes, tol, lmin, lmax), probes, unusable, lmax)
    failed = min(unusable)
    why = f"L={failed:,} could not be measured ({unusable[failed]})"
    usable = [p.seq_len for p in probes]
    if not usable or failed < max(usable):
        return SearchState(Estimate("not resolved", note=why), probes, unusable, lmax, why)
    end = max(usable)
    note = f"{why}; the range ends at L={end:,}"
    return SearchState(estimate(probes, tol, lmin, end), probes, unusable, end, note)


def smooth_length(target: float, lmin: int, lmax: int) -> int:
    """The 5-smooth integer (2^a·3^b·5^c) nearest ``target`` in log L, within [lmin, lmax]
    (the bounds themselves are allowed even when not smooth)."""
    target = min(max(target, lmin), lmax)
    best, best_distance = lmin, abs(math.log(target / lmin))
    if abs(math.log(lmax / target)) < best_distance:
        best, best_distance = lmax, abs(math.log(lmax / target))
    limit = 2 * target
    power5 = 1
    while power5 <= limit:
        power3 = power5
        while power3 <= limit:
            # the powers of two on either side of target / power3
            k = max(0, math.floor(math.log2(target / power3)))
            for candidate in (power3 << k, power3 << (k + 1)):
                if lmin <= candidate <= lmax:
                    distance = abs(math.log(candidate / target))
                    if distance < best_distance:
                        best, best_distance = candidate, distance
            power3 *= 3
        power5 *= 5
    return int(best)


def bracket_lengths(lmin: int, lmax: int) -> list[int]:
    """lmin, 4·lmin, 16·lmin, … and lmax: the lengths the bracket walks, shortest first."""
    lengths = [lmin]
    while lengths[-1] * BRACKET_STEP < lmax:
        lengths.append(lengths[-1] * BRACKET_STEP)
    if lengths[-1] != lmax:
        lengths.append(lmax)
    return lengths


def _root(x: np.ndarray, d: np.ndarray, lo: float, hi: float) -> float | None:
    """x* of the least-squares line through (x, d) when it crosses zero inside [lo, hi]."""
    slope, intercept = np.polyfit(x, d, 1)
    if slope == 0:
        return None
    root = -intercept / slope
    return float(root) if lo <= root <= hi else None


def _window(probes: list[Probe], x_star: float, span: float, keep: tuple[int, ...]) -> list[Probe]:
    """The probes within ``span`` of x_star in log L, plus those at the indices ``keep``."""
    near = {i for i, p in enumerate(probes) if abs(math.log(p.seq_len) - x_star) <= span}
    return [probes[i] for i in sorted(near | set(keep))]


def estimate(probes: list[Probe], tol: float, lmin: int, lmax: int) -> Estimate:
    """Where the search stands after ``probes`` (any order; one per length) and which length
    to probe next. ``tol``: the relative half-width to reach; [lmin, lmax]: the range."""
    probes = sorted(probes, key=lambda p: p.seq_len)
    walk = bracket_lengths(lmin, lmax)
    d = [p.log_ratio for p in probes]
    change = next((i for i in range(len(d) - 1) if (d[i] < 0) != (d[i + 1] < 0)), None)
    if change is None:  # still bracketing: the walk's next length, or no crossing in range
        have = {p.seq_len for p in probes}
        todo = [length for length in walk if length not in have]
        if todo and len(probes) < MAX_PROBES:
            return Estimate("searching", next_len=todo[0])
        if not probes:
            return Estimate("not resolved", note="no usable probe")
        faster = "a" if d[0] < 0 else "b"
        return Estimate(
            f"{faster} faster everywhere",
            note=f"the sign of log(t_A/t_B) is the same at all {len(probes)} probes from "
            f"L={probes[0].seq_len:,} to L={probes[-1].seq_len:,}",
        )
    changes = sum((d[i] < 0) != (d[i + 1] < 0) for i in range(len(d) - 1))
    if changes > 1:  # assumption (1) fails: say so with every estimate from here on
        twice = (
            f"the faster operator changes {changes} times over the probes (noise, or a "
            "backend that pads L to a power of two has a staircase for a curve): the crossing "
            "searched is the first"
        )
        refined = _refine(probes, d, change, tol, lmin, lmax)
        return replace(refined, note="; ".join(n for n in (refined.note, twice) if n))
    return _refine(probes, d, change, tol, lmin, lmax)


def _refine(
    probes: list[Probe], d: list[float], change: int, tol: float, lmin: int, lmax: int
) -> Estimate:
    """The refine step around the first sign change between probes ``change`` and the next."""
    bracket = (change, change + 1)
    x = np.log([p.seq_len for p in probes])
    # A first guess: the line through the probes within WINDOW of the bracket's log-log
    # interpolation (the interpolation itself when that line misses the bracket).
    x_star = x[change] + d[change] * (x[change + 1] - x[change]) / (d[change] - d[change + 1])
    wide = _window(probes, x_star, math.log(WINDOW), bracket)
    guess = _root(*_line_data(wide), float(x[change]), float(x[change + 1]))
    x_star = guess if guess is not None else x_star
    # The estimate: the line through the probes within (1 + 2·tol) of the guess, which needs
    # one on each side of it (over so short a span a smooth curve is a line).
    local = _window(probes, x_star, math.log1p(2 * tol), ())
    sides = {math.log(p.seq_len) <= x_star for p in local} | {
        math.log(p.seq_len) < x_star for p in local
    }
    star = math.exp(x_star)
    if len(local) < 2 or sides != {True, False}:
        lower = any(math.log(p.seq_len) <= x_star for p in local)
        target = star * (1 + tol) if lower else star / (1 + tol)
        following = smooth_length(target, lmin, lmax)
        return _continue(probes, Estimate("searching", star, next_len=following), tol)
    lx, ld = _line_data(local)
    reach = float(lx.max() - lx.min())  # a root beyond the window by more than its width is
    lo, hi = float(lx.min()) - reach, float(lx.max()) + reach  # a flat line's, i.e. noise
    fitted = _root(lx, ld, lo, hi)
    x_star = fitted if fitted is not None else x_star
    star = math.exp(x_star)
    rng = np.random.default_rng(SEED)
    reps_a = np.array([log_replicates(p.a, RESAMPLES, rng) for p in local])
    reps_b = np.array([log_replicates(p.b, RESAMPLES, rng) for p in local])
    roots = [_root(lx, reps_a[:, k] - reps_b[:, k], lo, hi) for k in range(RESAMPLES)]
    found = [r for r in roots if r is not None]
    result = {
        "crossover_L": star,
        "share": len(found) / RESAMPLES,
        "fitted": [p.seq_len for p in local],
    }
    low = high = None
    if result["share"] >= RESOLVED_SHARE:
        low, high = (math.exp(v) for v in percentile_interval(found))
        result |= {"ci_low": low, "ci_high": high}
        if (high - low) / 2 <= tol * star:
            return Estimate("resolved", **result)
    following = _next_length(probes, star, low, high, tol, (lmin, lmax))
    return _continue(probes, Estimate("searching", **result, next_len=following), tol)


def _line_data(probes: list[Probe]) -> tuple[np.ndarray, np.ndarray]:
    """(log L, d) of ``probes``: what the line is fitted to."""
    return np.log([p.seq_len for p in probes]), np.array([p.log_ratio for p in probes])


def _continue(probes: list[Probe], proposal: Estimate, tol: float) -> Estimate:
    """``proposal``, unless it runs out of probes or proposes a length already probed (no
    length left that narrows the interval): then "not resolved", saying why."""
    if len(probes) >= MAX_PROBES:
        return replace(proposal, verdict="not resolved", next_len=None,
                       note=f"{MAX_PROBES} probes spent")  # fmt: skip
    if proposal.next_len in {p.seq_len for p in probes}:
        return replace(
            proposal,
            verdict="not resolved",
            next_len=None,
            note="every length that would narrow the interval is probed: the times' noise "
            "sets its width (more repeats or a longer budget per point would narrow it)",
        )
    return proposal


def _next_length(
    probes: list[Probe],
    star: float,
    low: float | None,
    high: float | None,
    tol: float,
    bounds: tuple[int, int],
) -> int:
    """At the estimate unless a probe is within tol/2 of it; else the length in the local
    window (the interval's ends, the window's edges, the midpoints between its probes) that
    is farthest in log L from every probe: each probe near the root averages its noise down.
    A length within tol/6 of a probe adds nothing; when every candidate is, the estimate is
    returned (already probed: the caller stops)."""
    have = np.log([p.seq_len for p in probes])
    lmin, lmax = bounds

    def gap(length: int) -> float:
        return float(np.min(np.abs(have - math.log(length))))

    at_star = smooth_length(star, lmin, lmax)
    if gap(at_star) > math.log1p(tol / 2):
        return at_star
    edges = (star / (1 + 2 * tol), star * (1 + 2 * tol))
    inside = sorted(x for x in have if math.log(edges[0]) <= x <= math.log(edges[1]))
    marks = [math.log(edges[0]), *inside, math.log(edges[1])]
    midpoints = [math.exp((x + y) / 2) for x, y in itertools.pairwise(marks)]
    ends = (low, high) if low is not None and high is not None else ()
    candidates = [smooth_length(v, lmin, lmax) for v in (*ends, *edges, *midpoints)]
    fresh = [c for c in candidates if gap(c) > math.log1p(tol / 6)]  # not a near-repeat
    return max(fresh, key=gap) if fresh else at_star


SEARCH_KIND = "search"  # the store's run kind of a search (``hyperf.search``)


def search_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are searches (a store from before run kinds has none)."""
    if "kind" not in runs.columns:
        return runs.iloc[0:0]
    return runs[runs["kind"] == SEARCH_KIND]


def searched_crossovers(
    points: pd.DataFrame, samples: dict[tuple[int, str], Repeats], runs: pd.DataFrame
) -> pd.DataFrame:
    """One row per search run: the pair, the point it was searched at, its verdict, the
    crossover with its 95 % interval (None without an interval; an unresolved search's may be
    wider than its tol, and says so), how many probes and seconds it took, and its probes as
    (L, t_A, t_B) for figures."""
    rows = []
    for run in search_runs(runs).itertuples():
        try:
            spec = SearchSpec.model_validate_json(run.spec_text)
        except ValidationError as error:  # e.g. a plugin operator that is not loaded here
            why = "; ".join(dict.fromkeys(e["msg"].split(";")[0] for e in error.errors()))
            note = f"its stored spec does not validate here ({why}); load the plugins it used"
            rows.append({"run_id": run.id, "verdict": "unreadable", "note": note, "probes": 0})
            continue
        mine = points[points["run_id"] == run.id]
        state = search_state(mine, samples, spec.a, spec.b, spec.tol, spec.lmin,
                             spec.lmax or MAX_SEQ_LEN)  # fmt: skip
        e = state.estimate
        workload = spec.params(spec.a).workload()
        bounded = e.ci_low is not None  # an interval, within tol or wider than asked
        started, finished = pd.to_datetime(run.started_at), pd.to_datetime(run.finished_at)
        families = dict(zip(mine["op"], mine["family"], strict=False))
        rows.append(
            {
                "run_id": run.id,
                "a": spec.a,
                "b": spec.b,
                "a_family": families.get(spec.a, spec.a.split(":", 1)[0]),
                "b_family": families.get(spec.b, spec.b.split(":", 1)[0]),
                "mode": spec.mode,
                "exec": workload.exec,
                "depth": workload.depth,
                "d_model": workload.d_model,
                "batch": workload.batch,
                "dtype": workload.dtype,
                "order": spec.point.get("order", workload.order),
                "causal": int(spec.point.get("causal", True)),
                "verdict": e.verdict,
                "crossover_L": e.crossover_L if bounded else None,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "estimate_L": e.crossover_L,
                "half_width": e.half_width,
                "tol": spec.tol,
                "probes": len(state.probes),
                "lmin": spec.lmin,
                "lmax": state.lmax,
                "seconds": (finished - started).total_seconds() if run.finished_at else None,
                "note": "; ".join(n for n in (e.note, state.note) if n),
                "probe_lengths": [p.seq_len for p in state.probes],
                "probe_order": _measured_order(mine, [p.seq_len for p in state.probes]),
                "probe_a_ms": [centre(p.a) for p in state.probes],
                "probe_b_ms": [centre(p.b) for p in state.probes],
            }
        )
    return pd.DataFrame(rows)


def _measured_order(points: pd.DataFrame, lengths: list[int]) -> list[int]:
    """Each length's place (1, 2, …) in the order its probe was measured."""
    if "finished_at" not in points.columns:
        return list(range(1, len(lengths) + 1))
    done = points.groupby("seq_len")["finished_at"].max()
    ranks = done.loc[lengths].rank(method="first").astype(int)
    return ranks.tolist()
