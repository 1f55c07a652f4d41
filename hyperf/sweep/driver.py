"""The driver: plan a spec, skip what a resumed run already holds, execute in passes, store."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hyperf.device import resolve_device
from hyperf.envinfo import capture
from hyperf.measure.ceilings import load_ceilings
from hyperf.results import MEASURED, PointRow, Repeat, combine, finished
from hyperf.store import Store
from hyperf.sweep.executors import LocalExecutor, RayExecutor
from hyperf.sweep.plan import Point, build_plan
from hyperf.sweep.runner import point_params
from hyperf.sweep.spec import Spec, spec_hash


@dataclass
class SweepSummary:
    run_id: int
    planned: int
    already_done: int
    statuses: Counter = field(default_factory=Counter)
    wall_s: float = 0.0


def resolve_run(store: Store, spec_text: str, device: str, resume: int | bool | None) -> int | None:
    """The run to continue: an explicit id, the latest run of this spec on this device, or
    None for a new run."""
    if resume in (None, False):
        return None
    if resume is True:
        return store.latest_run(spec_hash(spec_text), device)
    if store.run(int(resume)) is None:
        raise ValueError(f"--resume {resume}: no such run in {store.path}")
    return int(resume)


def run_sweep(
    spec: Spec,
    spec_text: str,
    db: str,
    *,
    device: str | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    resume: int | bool | None = None,
    quiet: bool = False,
    console: Console | None = None,
) -> SweepSummary:
    console = console or Console()
    device_name = str(resolve_device(device or spec.device))
    plan = build_plan(spec, device_name)
    with Store(db) as store:
        run_id = resolve_run(store, spec_text, device_name, resume)
        if run_id is None:
            ceilings = load_ceilings(device_name)
            run_id = store.create_run(
                spec.name,
                spec_text,
                spec_hash(spec_text),
                device_name,
                capture(),
                ceilings.as_dict() if ceilings else None,
            )
        else:
            store.reopen_run(run_id)
        done = store.done_point_ids(run_id)
        todo: list[Point] = [p for p in plan if p.id not in done]
        summary = SweepSummary(run_id, len(plan), len(plan) - len(todo))
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
            measure_passes(store, run_id, todo, runner, summary, console, quiet)
            status = "finished"
        finally:
            summary.wall_s = time.perf_counter() - started
            store.finish_run(run_id, status)
    return summary


def measure_passes(
    store: Store,
    run_id: int,
    todo: list[Point],
    runner: LocalExecutor | RayExecutor,
    summary: SweepSummary,
    console: Console,
    quiet: bool,
) -> None:
    """Measure repeat r of every unfinished point in pass r, each pass in fresh processes, so
    a point's repeats are spread over the run (drift touches every point alike) and never
    share a process. A point finishes when all its repeats ran or one ended without a time;
    its row is written with its last repeat."""
    held = store.stored_repeats(run_id)  # a resumed run keeps the repeats it has
    state = {p.id: held.get(p.id, []) for p in todo}
    wanted = {p.id: p.budget["repeats"] for p in todo}
    total = sum(wanted[p.id] - len(state[p.id]) for p in todo)
    with _progress(console, quiet, total) as progress:
        for index in range(max(wanted.values(), default=0)):
            tasks = [
                (p, index)
                for p in todo
                if len(state[p.id]) == index
                and not finished([r for r, _ in state[p.id]], wanted[p.id])
            ]
            for point, repeat, (row, samples, cpu_ms) in runner.run(tasks):
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
                )
                if result:
                    summary.statuses[result.status] += 1
                left = wanted[point.id] - len(repeats) if complete else 0
                progress(point, repeat, row, result, summary.statuses, 1 + left)


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
