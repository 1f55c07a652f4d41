"""The driver: plan a spec, skip what a resumed run already holds, execute, store."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hyperf.device import resolve_device
from hyperf.envinfo import capture
from hyperf.measure.ceilings import load_ceilings
from hyperf.store import Store
from hyperf.sweep.executors import LocalExecutor, RayExecutor
from hyperf.sweep.plan import Point, build_plan
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
            with _progress(console, quiet, len(todo)) as progress:
                for point, result, samples in runner.run(todo):
                    store.write_point(run_id, point.id, point.as_dict(), result, samples)
                    summary.statuses[result["status"]] += 1
                    progress(point, result, summary.statuses)
            status = "finished"
        finally:
            summary.wall_s = time.perf_counter() - started
            store.finish_run(run_id, status)
    return summary


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

    def update(self, point: Point, result: dict, statuses: Counter) -> None:
        self.count += 1
        w = point.workload
        label = f"{w.op} {point.mode} L={w.seq_len} B={w.batch} D={w.d_model}"
        if self.bar is None:
            median = result.get("median_ms")
            timing = f" {median:.3f} ms" if median is not None else ""
            if result.get("interpreted"):
                timing += " (Triton interpreter: not a speed)"
            print(f"[{self.count}/{self.total}] {label}: {result['status']}{timing}", flush=True)
            return
        counts = " ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
        self.bar.update(self.task, advance=1, description=f"{counts} | {label}")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
