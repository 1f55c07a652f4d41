"""The driver: plan a spec, skip what a resumed run already holds, execute in passes, store.

SIGINT and SIGTERM stop it the same way: the worker is killed, the driver's claims are
released and the run is marked ``interrupted``; ``--resume`` continues it."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hyperf.device import resolve_device
from hyperf.envinfo import capture
from hyperf.measure.ceilings import load_ceilings
from hyperf.results import MEASURED, PointRow, Repeat, combine, finished
from hyperf.store import Store, claim_owner
from hyperf.sweep.executors import LocalExecutor, RayExecutor
from hyperf.sweep.plan import Point, build_plan, point_filter
from hyperf.sweep.runner import point_params
from hyperf.sweep.spec import Spec, spec_hash, stored_spec, text_hash


@dataclass
class SweepSummary:
    run_id: int
    planned: int
    already_done: int
    statuses: Counter = field(default_factory=Counter)
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the user should know (new run, …)


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the sweep; the run is marked interrupted, nothing is lost."""

    def __init__(self, signum: int, run_id: int | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.run_id = signum, run_id


RETRYABLE = ("timeout", "crashed")  # point statuses --retry-failed measures again


def resolve_run(
    store: Store, spec: Spec, spec_text: str, device: str, resume: int | bool | None
) -> tuple[int | None, str | None]:
    """(the run to continue, or None for a new run; a note for the user). Continuing another
    spec's run, or one measured on another device, is refused: its points would be merged
    into a run whose stored spec says something else."""
    if resume in (None, False):
        return None, None
    if resume is True:
        found = store.latest_run([spec_hash(spec), text_hash(spec_text)], device)
        if found is None:
            return (
                None,
                f"nothing to resume: no run of spec {spec.name!r} on {device} in "
                f"{store.path}; starting a new run",
            )
        return found, None
    run = store.run(int(resume))
    if run is None:
        raise ValueError(f"--resume {resume}: no such run in {store.path} (see `hyperf runs`)")
    if run["spec_hash"] not in (spec_hash(spec), text_hash(spec_text)):
        stored = _stored_spec_hash(run["spec_text"])
        if stored != spec_hash(spec):
            raise ValueError(
                f"--resume {resume}: run {resume} was made from spec {run['name']!r} "
                f"(hash {run['spec_hash']}), not from this spec {spec.name!r} (hash "
                f"{spec_hash(spec)}); resuming would mix two specs' points in one run. Start "
                "a new run (no --resume), or resume with the spec the run was made from"
            )
    if run["device"] != device:
        raise ValueError(
            f"--resume {resume}: run {resume} was measured on {run['device']}, this sweep is "
            f"on {device}; give --device {run['device']} or start a new run"
        )
    return int(resume), None


def stored_points(
    db: str, spec: Spec, spec_text: str, device: str, resume: int | bool | None
) -> tuple[int | None, set[str], str | None]:
    """What ``--resume`` would continue, read only: (the run, or None for a new one; the ids
    of its points already stored; a note). For ``sweep --dry-run --resume``."""
    if resume in (None, False) or not Path(db).exists():
        return None, set(), None
    with Store(db) as store:
        run_id, note = resolve_run(store, spec, spec_text, device, resume)
        return run_id, store.done_point_ids(run_id) if run_id is not None else set(), note


def _stored_spec_hash(text: str | None) -> str | None:
    """The normalised hash of a stored spec's text (runs made before hashes were normalised),
    or None if it no longer validates (e.g. a plugin operator that is not loaded)."""
    spec = stored_spec(text)
    return spec_hash(spec) if spec is not None else None


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Inside: SIGTERM (and SIGINT) raise SweepInterrupted, so a driver stopped either way
    kills its worker, releases its claims and marks the run interrupted."""

    def interrupt(signum: int, frame) -> None:
        raise SweepInterrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_sweep(
    spec: Spec,
    spec_text: str,
    db: str,
    *,
    device: str | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    resume: int | bool | None = None,
    retry_failed: bool = False,
    profile: str | None = None,
    quiet: bool = False,
    console: Console | None = None,
) -> SweepSummary:
    """Measure the spec's plan into ``db``. ``profile``: None, or a point filter ('' for every
    point, see ``plan.point_filter``) choosing the points whose first repeat is also profiled
    into ``DB-profiles/run-N/POINT/`` with its breakdown stored."""
    console = console or Console()
    device_name = str(resolve_device(device or spec.device))
    plan = build_plan(spec, device_name)
    profiled = point_filter(profile) if profile is not None else None
    owner = claim_owner()
    if resume not in (None, False, True) and not Path(db).exists():  # leave no empty store
        raise ValueError(f"--resume {resume}: {db} does not exist (see `hyperf runs --db DB`)")
    with Store(db, write=True) as store, signals_interrupt():
        run_id, note = resolve_run(store, spec, spec_text, device_name, resume)
        notes = [note] if note else []
        if run_id is None:
            ceilings = load_ceilings(device_name)
            run_id = store.create_run(
                spec.name,
                spec_text,
                spec_hash(spec),
                device_name,
                capture(),
                ceilings.as_dict() if ceilings else None,
            )
        else:
            if retry_failed:
                forgotten = store.forget_failed(run_id, RETRYABLE)
                notes.append(f"measuring {forgotten} {'/'.join(RETRYABLE)} point(s) again")
            store.reopen_run(run_id)
        done = store.done_point_ids(run_id)
        todo: list[Point] = [p for p in plan if p.id not in done]
        if profiled is not None:
            folder = Path(db).resolve().with_name(f"{Path(db).stem}-profiles")
            todo = [
                replace(p, profile_dir=str(folder / f"run-{run_id}" / p.id)) if profiled(p) else p
                for p in todo
            ]
        summary = SweepSummary(run_id, len(plan), len(plan) - len(todo), notes=notes)
        for line in notes:
            console.print(f"note: {line}", highlight=False, soft_wrap=True)
        runner = (
            RayExecutor(
                ray_address, measure_memory=spec.measure_memory, count_flops=spec.count_flops
            )
            if executor == "ray"
            else LocalExecutor(spec.measure_memory, spec.count_flops)
        )
        started = time.perf_counter()
        status = "interrupted"
        try:
            measure_passes(store, run_id, owner, todo, runner, summary, console, quiet)
            status = "finished"
        except SweepInterrupted as stop:
            stop.run_id = run_id
            raise
        finally:
            summary.wall_s = time.perf_counter() - started
            close_run(store, run_id, owner, status, {p.id for p in plan})
    return summary


def close_run(store: Store, run_id: int, owner: str, status: str, planned: set[str]) -> None:
    """Release this driver's claims and set the run's status: finished when it holds every
    planned point; left running while another live driver is still measuring it."""
    try:
        store.release_claims(run_id, owner)
        if status == "finished" and not planned <= store.done_point_ids(run_id):
            status = "interrupted"
        if status != "finished" and store.other_live_owners(run_id, owner):
            return
        store.finish_run(run_id, status)
    except sqlite3.OperationalError:  # disk full or gone: the error that stopped us says so
        pass


def measure_passes(
    store: Store,
    run_id: int,
    owner: str,
    todo: list[Point],
    runner: LocalExecutor | RayExecutor,
    summary: SweepSummary,
    console: Console,
    quiet: bool,
    silent: bool = False,
) -> None:
    """Measure repeat r of every unfinished point in pass r, each pass in fresh processes, so
    a point's repeats are spread over the run (drift touches every point alike) and never
    share a process. A point finishes when all its repeats ran or one ended without a time;
    its row is written with its last repeat. Each repeat is claimed just before it is
    measured, so a second driver resuming the same run takes other repeats, not these."""
    held = store.stored_repeats(run_id)  # a resumed run keeps the repeats it has
    state = {p.id: held.get(p.id, []) for p in todo}
    wanted = {p.id: p.budget["repeats"] for p in todo}
    total = sum(wanted[p.id] - len(state[p.id]) for p in todo)

    def claimed(index: int) -> Iterator[tuple[Point, int]]:
        for p in todo:
            if (
                len(state[p.id]) == index
                and not finished([r for r, _ in state[p.id]], wanted[p.id])
                and store.claim(run_id, p.id, index, owner)
            ):
                yield p, index

    with _progress(console, quiet, total) as progress:
        for index in range(max(wanted.values(), default=0)):
            with closing(runner.run(claimed(index))) as outcomes:
                for point, repeat, (row, samples, cpu_ms) in outcomes:
                    state[point.id].append((row, samples))
                    repeats = [r for r, _ in state[point.id]]
                    complete = finished(repeats, wanted[point.id])
                    result = (
                        combine(repeats, [s for r, s in state[point.id] if r.status in MEASURED])
                        if complete
                        else None
                    )
                    store.write_repeat(
                        run_id,
                        point.id,
                        repeat,
                        row,
                        samples,
                        cpu_ms,
                        (point.as_dict(), point_params(point), result) if result else None,
                        _breakdown(row),
                    )
                    if result:
                        summary.statuses[result.status] += 1
                    left = wanted[point.id] - len(repeats) if complete else 0
                    if not silent:  # (a search reports per probe instead)
                        progress(point, repeat, row, result, summary.statuses, 1 + left)


def _breakdown(row: Repeat) -> list[dict]:
    """The breakdown rows a profiled repeat carries in its detail (none for others)."""
    return json.loads(row.detail_json or "{}").get("profile", {}).get("breakdown", [])


class _progress:
    """A rich progress bar (done/total, statuses, current point, ETA) or plain log lines."""

    def __init__(self, console: Console, quiet: bool, total: int):
        self.console, self.quiet, self.total, self.count = console, quiet, total, 0
        self.bar: Progress | None = None

    def __enter__(self):
        if not self.quiet:
            self.bar = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=self.console,
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total)
        return self.update

    def update(
        self,
        point: Point,
        repeat: int,
        row: Repeat,
        result: PointRow | None,
        statuses: Counter,
        advance: int,
    ) -> None:
        self.count += advance
        w = point.workload
        label = f"{w.op} {point.mode} L={w.seq_len} B={w.batch} D={w.d_model} #{repeat}"
        if self.bar is None:
            timing = f" {row.median_ms:.3f} ms" if row.median_ms is not None else ""
            if row.interpreted:
                timing += " (Triton interpreter: not a speed)"
            if row.contended:
                timing += " (contended)"
            if result is not None and result.median_ms is not None:
                timing += (
                    f"; point: {result.median_ms:.3f} ms "
                    f"[{result.ci_low_ms:.3f}, {result.ci_high_ms:.3f}]"
                )
            print(f"[{self.count}/{self.total}] {label}: {row.status}{timing}", flush=True)
            return
        counts = " ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
        self.bar.update(self.task, advance=advance, description=f"{counts} | {label}")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
