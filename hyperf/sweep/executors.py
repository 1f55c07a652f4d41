"""Executors run tasks — (point, repeat) pairs — somewhere and yield (point, repeat, outcome)
as they finish. The driver calls ``run`` once per pass; every call measures in processes of
its own, so the repeats of a point never share a process.

- ``LocalExecutor``: a worker subprocess started for the call and kept for its tasks; a task
  that kills it is ``crashed`` (with its stderr tail), one that overruns its timeout is
  ``timeout`` (the worker is killed); either way a fresh worker takes the next task. A task's
  timeout starts once its worker is ready (torch and the registry loaded, which takes
  seconds), so a short ``timeout_s`` times the point, not the start-up; a worker that dies
  or hangs while starting makes the task ``crashed``. Workers die with the driver, even when
  it is killed with SIGKILL (Linux).
- ``RayExecutor``: each task is a Ray task in a fresh worker process (``max_calls=1``; one
  GPU on CUDA, ``cpus_per_point`` CPUs otherwise) on a local or remote cluster; Ray retries
  tasks whose node was lost. Results stream back to the driver, which alone writes the store.
  Per-task time-outs are the local executor's; on a cluster, tasks queue behind each other
  and Ray has no task deadline.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator

from hyperf.results import Repeat
from hyperf.sweep.plan import Point
from hyperf.sweep.runner import Outcome, run_point
from hyperf.sweep.worker import READY, warm_up

Task = tuple[Point, int]  # a point and the repeat to measure
Done = tuple[Point, int, Outcome]
STDERR_TAIL = 2000  # characters of a crashed worker's stderr kept with the point
# How long a worker may take to import torch and load the registry before it is given up
# as hung: as long as a repeat may run (the spec's ``timeout_s``), but never under a floor
# that covers a cold torch import on a busy 2-core machine. A stalled start-up holds the
# sweep no longer than a stalled point would.
STARTUP_FLOOR_S = 60.0


def startup_timeout_s(timeout_s: float) -> float:
    return max(STARTUP_FLOOR_S, timeout_s)


class LocalExecutor:
    def __init__(self, measure_memory: bool = True, count_flops: bool = True):
        self.options = {"measure_memory": measure_memory, "count_flops": count_flops}
        self.process: subprocess.Popen | None = None
        self.stderr = None
        self.ready = False  # the worker said it is ready
        self.startup_error: str | None = None  # why a worker spawned ahead did not start

    def spawn(self) -> None:
        """Start a worker without waiting for it to be ready (``KeptWorkers`` starts several
        at once, so their imports overlap)."""
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in _stop)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hyperf.sweep.worker", "--parent", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        self.ready = False

    def _start(self, timeout_s: float) -> str | None:
        """Start a worker and wait until it is ready; None, or why it could not start."""
        self.spawn()
        return self.await_ready(timeout_s)

    def await_ready(self, timeout_s: float) -> str | None:
        """None once the worker says it is ready, or why not; ``timeout_s``: the spec's."""
        self.ready = True
        limit = startup_timeout_s(timeout_s)
        line = self._read_line(limit)
        if line is None:
            why = f"not ready within {limit:g} s"
        elif not line:
            why = f"it exited with code {self.process.wait()}"
        elif line.strip() != READY:
            why = f"it said {line.strip()!r}"
        else:
            return None
        return f"worker failed to start: {why}\n{self._stop()}"

    def _read_line(self, timeout: float) -> str | None:
        """The worker's next protocol line ('' if it exited), or None after ``timeout`` s. The
        protocol is one line per request, so nothing is ever left in the pipe's buffer."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline() if ready else None

    def _stop(self) -> str:
        """Kill the worker; return the tail of what it wrote to stderr."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        tail = ""
        if self.stderr is not None:
            self.stderr.seek(0)
            tail = self.stderr.read()[-STDERR_TAIL:]
            self.stderr.close()
            self.stderr = None
        return tail

    def run(self, tasks: list[Task]) -> Iterator[Done]:
        try:
            for point, repeat in tasks:
                yield point, repeat, self.run_one(point, repeat)
        finally:
            self._stop()

    def close(self) -> None:
        self._stop()

    def run_one(self, point: Point, repeat: int) -> Outcome:
        """Measure one task in this executor's worker (started if there is none)."""
        error, self.startup_error = self.startup_error, None
        if error is None and (self.process is None or self.process.poll() is not None):
            self._stop()  # a worker that died between tasks: collect it
            error = self._start(point.budget["timeout_s"])
        elif error is None and not self.ready:  # spawned ahead of time: wait for it now
            error = self.await_ready(point.budget["timeout_s"])
        if error is not None:
            return failure("crashed", error)
        process = self.process
        request = json.dumps({"point": point.as_dict(), "repeat": repeat, **self.options})
        try:
            process.stdin.write(request + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            code = process.wait()
            return failure("crashed", f"worker exited with code {code}\n{self._stop()}")
        timeout = point.budget["timeout_s"]  # from here: the worker is ready
        line = self._read_line(timeout)
        if line is None:
            self._stop()
            return failure("timeout", f"no result within {timeout:g} s; the worker was killed")
        if not line:
            code = process.wait()
            return failure("crashed", f"worker exited with code {code}\n{self._stop()}")
        reply = json.loads(line)
        return Repeat(**reply["repeat"]), reply["samples"], reply["cpu_ms"]


class KeptWorkers:
    """A worker process per repeat index, kept across ``run`` calls until ``close``: an
    adaptive search measures its probes a few at a time, and repeat r of every probe runs in
    worker r, so a point's repeats still never share a process while the start-up (torch,
    the registry: seconds) is paid once per search, not once per probe."""

    def __init__(self, repeats: int, measure_memory: bool = True, count_flops: bool = True):
        self.repeats, self.options = repeats, (measure_memory, count_flops)
        self.workers: dict[int, LocalExecutor] = {}

    def run(self, tasks: Iterable[Task]) -> Iterator[Done]:
        tasks = list(tasks)  # the driver may hand a generator; the first task sets the limit
        if not self.workers:  # all at once, so their imports overlap; all ready before the
            for repeat in range(self.repeats):  # first task, so none is importing during one
                self.workers[repeat] = LocalExecutor(*self.options)
                self.workers[repeat].spawn()
            timeout_s = tasks[0][0].budget["timeout_s"] if tasks else STARTUP_FLOOR_S
            for worker in self.workers.values():
                worker.startup_error = worker.await_ready(timeout_s)
        for point, repeat in tasks:
            worker = self.workers.setdefault(repeat, LocalExecutor(*self.options))
            yield point, repeat, worker.run_one(point, repeat)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()


def failure(status: str, error: str) -> Outcome:
    return Repeat(status, error.strip()), [], []


def _ray_task(point_dict: dict, repeat: int, measure_memory: bool, count_flops: bool):
    warm_up()  # as a local worker does, so first_call_ms means the same on both
    return run_point(Point.from_dict(point_dict), repeat, measure_memory, count_flops)


class RayExecutor:
    def __init__(
        self,
        address: str | None = None,
        cpus_per_point: float = 1,
        measure_memory: bool = True,
        count_flops: bool = True,
        max_retries: int = 2,
    ):
        try:
            import ray
        except ImportError:
            raise ValueError("--executor ray needs ray: pip install 'hyperf[ray]'") from None
        self.ray = ray
        self.address, self.cpus, self.max_retries = address, cpus_per_point, max_retries
        self.options = (measure_memory, count_flops)

    def run(self, tasks: list[Task]) -> Iterator[Done]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        try:
            pending = {}
            for point, repeat in tasks:
                gpus = 1 if point.device.startswith("cuda") else 0
                remote = ray.remote(
                    num_cpus=0 if gpus else self.cpus,
                    num_gpus=gpus,
                    max_retries=self.max_retries,
                    max_calls=1,  # a fresh process per task: repeats never share one
                )(_ray_task)
                pending[remote.remote(point.as_dict(), repeat, *self.options)] = (point, repeat)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    point, repeat = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as error:
                        outcome = failure("crashed", str(error)[-STDERR_TAIL:])
                    yield point, repeat, outcome
        finally:
            if started_here:
                ray.shutdown()
