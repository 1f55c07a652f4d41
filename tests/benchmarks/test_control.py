"""Drift controls: fixed work that no hyperf change touches, timed in every process of the suite.

``hyperf bench compare --control`` (and ``hyperf bench ab --control``) divides each
benchmark's times in a process by that process's control time, which cancels a machine-wide
slowdown between runs (``hyperf.bench.gate``). Two kinds of work, since a machine drifts in
both: a matmul (compute-bound) and a copy (memory-bound), at sizes fixed forever — change
them and every history that used them breaks. Their group is ``control-<cpu|gpu>``, which is
how the gate finds them; they never fail the gate themselves.
"""

from __future__ import annotations

import pytest

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=[pytest.mark.gpu, pytest.mark.long]),
]


@pytest.mark.parametrize("device", DEVICES)
def test_control_matmul(run_control, device: str) -> None:
    run_control(device, "matmul")


@pytest.mark.parametrize("device", DEVICES)
def test_control_copy(run_control, device: str) -> None:
    run_control(device, "copy")
