"""Executors run points somewhere and yield (point, result, samples) as they finish.

- ``LocalExecutor``: one long-lived worker subprocess; a point that kills it is ``crashed``
  (with its stderr tail), one that overruns its timeout is ``timeout`` (the worker is killed);
  either way a fresh worker takes the next point.
- ``RayExecutor``: each point is a Ray task (one GPU on CUDA, ``cpus_per_point`` CPUs
  otherwise) on a local or remote cluster; Ray retries tasks whose node was lost. Results
  stream back to the driver, which alone writes the store. Per-point time-outs are the local
  executor's; on a cluster, points queue behind each other and Ray has no task deadline.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from hyperf.sweep.plan import Point
from hyperf.sweep.runner import params_columns

Outcome = tuple[Point, dict, list[float]]
STDERR_TAIL = 2000  # characters of a crashed worker's stderr kept with the point


class LocalExecutor:
    def __init__(self, measure_memory: bool = True, count_flops: bool = True):
        self.options = {"measure_memory": measure_memory, "count_flops": count_flops}
        self.process: subprocess.Popen | None = None
        self.stderr = None

    def _start(self) -> subprocess.Popen:
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in _stop)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hyperf.sweep.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        return self.process

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

    def run(self, points: list[Point]) -> Iterator[Outcome]:
        try:
            for point in points:
                yield self._run_one(point)
        finally:
            self._stop()

    def _run_one(self, point: Point) -> Outcome:
        process = self.process if self.process and self.process.poll() is None else self._start()
        request = json.dumps({"point": point.as_dict(), **self.options})
        try:
            process.stdin.write(request + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            return (
                point,
                self._failure(point, "crashed", "worker died on start:\n" + self._stop()),
                [],
            )
        timeout = point.budget["timeout_s"]
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            self._stop()
            return (
                point,
                self._failure(
                    point, "timeout", f"no result within {timeout:g} s; the worker was killed"
                ),
                [],
            )
        line = process.stdout.readline()
        if not line:
            code = process.wait()
            tail = self._stop()
            return (
                point,
                self._failure(point, "crashed", f"worker exited with code {code}\n{tail}"),
                [],
            )
        reply = json.loads(line)
        return point, reply["result"], reply["samples"]

    @staticmethod
    def _failure(point: Point, status: str, error: str) -> dict:
        return {**params_columns(point), "status": status, "error": error.strip()}


def _ray_task(point_dict: dict, measure_memory: bool, count_flops: bool):
    from hyperf.sweep.runner import run_point

    return run_point(Point.from_dict(point_dict), measure_memory, count_flops)


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

    def run(self, points: list[Point]) -> Iterator[Outcome]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        try:
            pending = {}
            for point in points:
                gpus = 1 if point.device.startswith("cuda") else 0
                task = ray.remote(
                    num_cpus=0 if gpus else self.cpus, num_gpus=gpus, max_retries=self.max_retries
                )(_ray_task)
                ref = task.remote(point.as_dict(), *self.options)
                pending[ref] = point
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    point = pending.pop(ref)
                    try:
                        result, samples = ray.get(ref)
                    except ray.exceptions.RayError as error:
                        result = LocalExecutor._failure(point, "crashed", str(error)[-STDERR_TAIL:])
                        samples = []
                    yield point, result, samples
        finally:
            if started_here:
                ray.shutdown()
