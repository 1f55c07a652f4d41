"""The adaptive crossover search's driver (``hyperf crossover``): measure two operators at the
lengths ``hyperf.analysis.search.estimate`` asks for, one length at a time, until the
crossover's 95 % interval is within ``tol`` or the budget is spent.

A search is a run of kind ``search`` in the store, its ``SearchSpec`` as the run's spec. Each
probe is two ordinary points (A and B at one L) measured like a sweep's: ``budget.repeats``
worker processes each (repeat r of every probe in worker r, ``KeptWorkers``), contention
re-checked, oracle-checked, rows and samples written as each repeat finishes. Which length
comes next is a pure function of the stored probes, so a search stopped by SIGTERM resumes
(``--resume RUN``) where it stopped, re-measuring nothing that is stored.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

from rich.console import Console

from hyperf.analysis.search import Estimate, Probe, SearchState, search_state
from hyperf.device import resolve_device
from hyperf.envinfo import capture
from hyperf.format import format_interval, format_length, format_seconds
from hyperf.measure.ceilings import load_ceilings
from hyperf.measure.execution import available
from hyperf.measure.memory import analytic_peak_bytes
from hyperf.params import MAX_SEQ_LEN
from hyperf.registry import check_available
from hyperf.stats.bootstrap import summarize_point
from hyperf.store import Store, claim_owner
from hyperf.sweep.driver import (
    SweepInterrupted,
    SweepSummary,
    close_run,
    measure_passes,
    signals_interrupt,
)
from hyperf.sweep.executors import KeptWorkers
from hyperf.sweep.plan import Point, normalise, point_id
from hyperf.sweep.runner import MEMORY_HEADROOM, available_memory
from hyperf.sweep.spec import SearchSpec

KIND = "search"


@dataclass
class SearchResult:
    """What a search found: its estimate over the usable probes, the lengths that could not
    be measured (and why), and the wall seconds this invocation took."""

    run_id: int
    spec: SearchSpec
    lmax: int
    estimate: Estimate
    probes: list[Probe]
    unusable: dict[int, str]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The ``--json`` object: the crossover (null where there is none), the verdict, and
        every probe with both operators' times and 95 % intervals (ms)."""
        e = self.estimate
        crossing = e.verdict in ("resolved", "searching", "not resolved") and e.crossover_L
        return {
            "run_id": self.run_id,
            "a": self.spec.a,
            "b": self.spec.b,
            "mode": self.spec.mode,
            "point": self.spec.point,
            "tol": self.spec.tol,
            "lmin": self.spec.lmin,
            "lmax": self.lmax,
            "verdict": e.verdict,
            "crossover_L": e.crossover_L if crossing else None,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "half_width": e.half_width,
            "replicates_crossing": e.share,
            "fitted_lengths": e.fitted,
            "note": " ".join([e.note, *self.notes]).strip(),
            "probes": [probe_row(p) for p in sorted(self.probes, key=lambda p: p.seq_len)],
            "unusable": {str(k): v for k, v in sorted(self.unusable.items())},
            "seconds": round(self.seconds, 3),
        }


def probe_row(probe: Probe) -> dict:
    """One probe as plain data: L, and each operator's centre and 95 % interval (ms)."""
    row: dict = {"seq_len": probe.seq_len}
    for side, samples in (("a", probe.a), ("b", probe.b)):
        stats = summarize_point(samples)
        row |= {
            f"{side}_ms": stats.centre,
            f"{side}_ci_low": stats.ci_low,
            f"{side}_ci_high": stats.ci_high,
            f"{side}_processes": stats.processes,
        }
    row["ratio"] = row["a_ms"] / row["b_ms"]
    return row


def longest_length(spec: SearchSpec, device: str) -> int:
    """The longest power of two ≤ 2²⁴ that both operators can run on ``device`` and whose
    predicted peak memory fits ``MEMORY_HEADROOM`` of what is free (no memory model: the
    operators' own length limits only)."""
    free = available_memory(resolve_device(device))
    best = spec.lmin
    length = 1 << max(spec.lmin, 1).bit_length()
    while length <= MAX_SEQ_LEN:
        for op in (spec.a, spec.b):
            workload = normalise(spec.params(op, length).workload())
            ok, _ = check_available(op, device, workload.torch_dtype, length)
            peak = analytic_peak_bytes(workload, spec.mode) if ok else None
            if not ok or (peak is not None and peak > MEMORY_HEADROOM * free):
                return best
        best, length = length, length * 2
    return best


def search_hash(spec: SearchSpec) -> str:
    """A hash of what the search measures and how, so ``--resume`` continues only the same
    search; the wall-clock budget is left out (a resumed search may get more time)."""
    data = spec.model_dump(mode="json", by_alias=True, exclude={"budget_s", "name"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def stored_search(store: Store, run_id: int) -> SearchSpec:
    """The SearchSpec of stored run ``run_id``; ValueError when it is not a search."""
    run = store.run(run_id)
    if run is None:
        raise ValueError(f"--resume {run_id}: no such run in {store.path} (see `hyperf runs`)")
    if run.get("kind") != KIND:
        raise ValueError(
            f"--resume {run_id}: run {run_id} is a {run.get('kind')}, not a search; resume it "
            "with `hyperf sweep SPEC --resume`"
        )
    return SearchSpec.model_validate(json.loads(run["spec_text"]))


def minimum_probe_seconds(spec: SearchSpec) -> float:
    """The least one probe can take: two points × repeats × (warm-up + sampling budget)."""
    return 2 * spec.budget.repeats * (spec.budget.budget_s + spec.budget.warmup_s)


def run_search(
    spec: SearchSpec,
    db: str,
    *,
    resume: int | None = None,
    quiet: bool = False,
    console: Console | None = None,
) -> SearchResult:
    """Search the crossover of ``spec.a`` and ``spec.b`` into ``db`` (a new run, or run
    ``resume``, which must be this same search). Raises ValueError before writing anything
    when the range or the budget cannot hold one probe."""
    console = console or Console()
    device = str(resolve_device(spec.device))
    for op in (spec.a, spec.b):  # what cannot run here is refused before anything is stored
        workload = spec.params(op).workload()
        for ok, reason in (
            check_available(op, device, workload.torch_dtype, spec.lmin, spec.mode),
            available(workload.exec, resolve_device(device), spec.mode),
        ):
            if not ok:
                raise ValueError(f"{op} cannot run on {device} here: {reason}")
    lmax = spec.lmax or longest_length(spec, device)
    if spec.lmin >= lmax:
        raise ValueError(
            f"lmin {spec.lmin} must be below lmax {lmax}"
            + ("" if spec.lmax else f" (the longest L both can run on {device})")
        )
    if spec.budget_s is not None and spec.budget_s < minimum_probe_seconds(spec):
        raise ValueError(
            f"budget {spec.budget_s:g} s is less than one probe takes at least "
            f"({minimum_probe_seconds(spec):g} s: 2 points × {spec.budget.repeats} repeats × "
            f"{spec.budget.budget_s + spec.budget.warmup_s:g} s of warm-up and sampling)"
        )
    given = search_hash(spec)  # as asked for: a spec's search: finds its run by it
    spec = spec.model_copy(update={"lmax": lmax})  # stored resolved: the report re-derives
    owner = claim_owner()
    started = time.perf_counter()
    workers = KeptWorkers(spec.budget.repeats, measure_memory=True, count_flops=False)
    with Store(db, write=True) as store, signals_interrupt():
        if resume is None:
            ceilings = load_ceilings(device)
            run_id = store.create_run(
                spec.name,
                spec.model_dump_json(by_alias=True),
                given,
                device,
                capture(),
                ceilings.as_dict() if ceilings else None,
                kind=KIND,
            )
        else:
            stored = stored_search(store, resume)
            if store.run(resume)["spec_hash"] != given and search_hash(stored) != given:
                raise ValueError(
                    f"--resume {resume}: run {resume} searched {stored.a} vs {stored.b} with "
                    "other settings; resume it without changing them, or start a new search"
                )
            run_id = resume
            store.reopen_run(run_id)
        summary = SweepSummary(run_id, 0, 0)
        status, notes, planned = "interrupted", [], set()
        last_probe_s, measured = 0.0, 0  # probes measured by this invocation
        length = None  # the length just measured, reported from the state read after it
        try:
            while True:
                points, samples, _ = store.load([run_id])
                state = search_state(points, samples, spec.a, spec.b, spec.tol, spec.lmin, lmax)
                if length is not None and not quiet:
                    _report_probe(console, state, spec, length)
                planned |= set(points["point_id"])
                length = state.estimate.next_len
                if length is None:
                    break
                # the next probe, predicted to take as long as the last one after the first
                # (which also started the workers); a longer L may still take longer
                coming = last_probe_s if measured > 1 else 0.0
                spent = time.perf_counter() - started
                if spec.budget_s is not None and spent + coming > spec.budget_s:
                    notes.append(
                        f"stopped by the budget ({spec.budget_s:g} s; the next probe, at "
                        f"L={length:,}, would take about {coming:.0f} s more) after "
                        f"{len(state.probes)} probes; `hyperf crossover --resume {run_id} "
                        "--budget S` continues it"
                    )
                    break
                probe_started = time.perf_counter()
                probe = [_point(spec, op, length, device) for op in (spec.a, spec.b)]
                planned |= {p.id for p in probe}
                todo = [p for p in probe if p.id not in store.done_point_ids(run_id)]
                measure_passes(store, run_id, owner, todo, workers, summary, console, True, True)
                last_probe_s, measured = time.perf_counter() - probe_started, measured + 1
            status = "finished"
        except SweepInterrupted as stop:
            stop.run_id = run_id
            raise
        finally:
            workers.close()
            close_run(store, run_id, owner, status, planned)
    if state.note:
        notes.insert(0, state.note)
    return SearchResult(
        run_id,
        spec,
        state.lmax,
        state.estimate,
        state.probes,
        state.unusable,
        time.perf_counter() - started,
        notes,
    )


def _point(spec: SearchSpec, op: str, seq_len: int, device: str) -> Point:
    workload = normalise(spec.params(op, seq_len).workload())
    return Point(
        point_id(workload, spec.mode, device),
        workload,
        spec.mode,
        device,
        spec.budget.model_dump(by_alias=True),
        spec.tolerances.get(workload.dtype),
    )


def _report_probe(console: Console, state: SearchState, spec: SearchSpec, length: int):
    """One line per probe: both operators' times and intervals at L, and their ratio."""
    here = next((p for p in state.probes if p.seq_len == length), None)
    if here is None:
        console.print(f"probe at L={length:,}: {state.unusable.get(length, 'not measured')}")
        return
    row = probe_row(here)

    def timed(side: str) -> str:
        interval = format_interval(row[f"{side}_ci_low"] / 1e3, row[f"{side}_ci_high"] / 1e3,
                                   format_seconds)  # fmt: skip
        return f"{format_seconds(row[f'{side}_ms'] / 1e3)} [{interval}]"

    console.print(
        f"probe {len(state.probes)}: L={format_length(length)}  {spec.a} {timed('a')}  "
        f"{spec.b} {timed('b')}  ratio {row['ratio']:.3f}",
        highlight=False,
    )
