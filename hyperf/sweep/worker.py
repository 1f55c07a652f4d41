"""The worker process: reads points as JSON lines on stdin, answers one JSON line each.

Started by the local executor (``python -m hyperf.sweep.worker``), one per pass over the
plan (each pass measures one repeat of every point, so a point's repeats run in different
processes), and kept for the pass so torch is imported once per pass. If it dies — a
segfault, an abort, the kernel's OOM killer — the driver records the repeat as crashed with
the tail of its stderr and starts another.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

from hyperf.sweep.plan import Point
from hyperf.sweep.runner import run_point


def main() -> None:
    # Keep the protocol channel for ourselves; anything a library prints goes to stderr.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        request = json.loads(line)
        repeat, samples, cpu_ms = run_point(
            Point.from_dict(request["point"]),
            request["repeat"],
            request.get("measure_memory", True),
            request.get("count_flops", True),
        )
        reply = {"repeat": asdict(repeat), "samples": samples, "cpu_ms": cpu_ms}
        channel.write(json.dumps(reply) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
