"""The worker process: reads points as JSON lines on stdin, answers one JSON line each.

Started by the local executor (``python -m hyperf.sweep.worker``), one per device, and kept
for many points so torch is imported once. If it dies — a segfault, an abort, the kernel's
OOM killer — the driver records the point as crashed with the tail of its stderr and starts
another.
"""

from __future__ import annotations

import json
import os
import sys

from hyperf.sweep.plan import Point
from hyperf.sweep.runner import run_point


def main() -> None:
    # Keep the protocol channel for ourselves; anything a library prints goes to stderr.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        request = json.loads(line)
        result, samples = run_point(
            Point.from_dict(request["point"]),
            request.get("measure_memory", True),
            request.get("count_flops", True),
        )
        channel.write(json.dumps({"result": result, "samples": samples}) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
