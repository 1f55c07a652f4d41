"""The worker process: reads points as JSON lines on stdin, answers one JSON line each.

Started by the local executor (``python -m hyperf.sweep.worker --parent PID``), one per pass
over the plan (each pass measures one repeat of every point, so a point's repeats run in
different processes), and kept for the pass so torch is imported once per pass. Once torch
and the registry (built-ins and ``HYPERF_PLUGINS``) are loaded and autograd and the profiler
are warmed up, it writes ``{"ready": true}``, so the executor can tell a slow start from a
slow point. If it dies — a segfault, an abort, the kernel's OOM killer — the driver records
the repeat as crashed with the tail of its stderr and starts another. It never outlives the
driver that started it (see ``die_with_parent``).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from dataclasses import asdict

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
READY = json.dumps({"ready": True})  # says: loaded and warmed up, send a point


def die_with_parent(parent: int) -> None:
    """On Linux, have the kernel SIGKILL this process when ``parent`` dies — even by SIGKILL,
    when no handler of the driver's runs — so a hung worker is not left behind, reparented
    to PID 1. Set here rather than in Popen's ``preexec_fn``, which is unsafe when the driver
    has threads (its progress bar does). The kernel watches the thread that started us: the
    driver spawns workers from the thread that runs the sweep."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: run without the guard
        return
    if os.getppid() != parent:  # the driver died before we asked: nobody will read our answer
        os._exit(1)


def warm_up() -> None:
    """Pay a process's start-up costs before the first point, where they would otherwise land
    in its time, ``first_call_ms`` and timeout: one tiny backward with an explicit gradient,
    as timing runs them (the first imports sympy, ~0.4 s), and one profiler session, as the
    device-time step runs them (the first imports torch._dynamo and _inductor, ~2 s)."""
    import torch

    x = torch.ones(2, requires_grad=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]):
        (2 * x).backward(torch.ones(2))


def _parent_arg(argv: list[str]) -> int | None:
    return int(argv[argv.index("--parent") + 1]) if "--parent" in argv else None


def main() -> None:
    parent = _parent_arg(sys.argv)
    if parent is not None:
        die_with_parent(parent)  # before the imports below, which take seconds
    # Keep the protocol channel for ourselves; anything a library prints goes to stderr.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    from hyperf import registry
    from hyperf.sweep.plan import Point
    from hyperf.sweep.runner import run_point

    registry.names()  # loads every provider and plugin: an import error ends us here
    warm_up()
    channel.write(READY + "\n")
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
