"""Benchmarks of every operator family, for catching kernels that got slower.

Each case is an operator (a registry name) at one size on one device in one mode, other
hyperparameters at ``Workload``'s defaults. CPU cases are tiny (the whole CPU part takes under
a minute on 2 cores); GPU cases use the paper's runtime-benchmark size (fp16, D = 768,
batch 1) at L = 1K–16K and carry the ``gpu`` marker.
Unavailable backends, and Triton off CUDA (interpreter only), skip with the reason.
Benchmark groups are ``<family>-<cpu|gpu>``, family one of longconv, hyena, attention, model.
"""

from __future__ import annotations

import pytest

from hyperf import registry
from hyperf.workload import Workload

MODES = ("fwd", "fwd_bwd")
# Per device: the workload shape, and the sequence lengths swept.
SHAPES = {
    "cpu": {"batch": 1, "d_model": 64, "dtype": "float32"},
    "cuda": {"batch": 1, "d_model": 768, "dtype": "float16"},
}
LENGTHS = {"cpu": (256, 1024), "cuda": (1024, 4096, 16384)}

LONGCONV = ("longconv:fft", "longconv:blocked", "longconv:triton", "longconv:subquadratic-ops")
HYENA = ("hyena:fft", "hyena:blocked", "hyena:triton", "hyena:subquadratic-ops", "hyena:se",
         "hyena:mr", "hyena:li")  # fmt: skip
SSM = ("ssm:mamba2", "ssm:mamba2-kernel")
ATTENTION = (
    "attention:sdpa-math",
    "attention:sdpa-flash",
    "attention:naive",
    "attention:flash_attn",
    "attention:flash_attn3",
)
MODEL = ("hyena:fft", "hyena:triton", "attention:sdpa-flash", "attention:flash_attn")
MODEL_DEPTH = 2


def marks(device: str, seq_len: int) -> list[pytest.MarkDecorator]:
    """GPU cases are ``gpu`` and ``long``; CPU cases beyond the smallest L are ``long`` (the
    smoke run under --benchmark-disable takes the rest)."""
    if device == "cuda":
        return [pytest.mark.gpu, pytest.mark.long]
    return [pytest.mark.long] if seq_len > min(LENGTHS[device]) else []


def cases(ops: tuple[str, ...]) -> list:
    """(device, op, seq_len, mode) for every device, op, length and mode."""
    return [
        pytest.param(
            device,
            op,
            seq_len,
            mode,
            id=f"{device}-{op}-L{seq_len}-{mode}",
            marks=marks(device, seq_len),
        )
        for device in SHAPES
        for op in ops
        for seq_len in LENGTHS[device]
        for mode in MODES
    ]


PARAMS = "device, op, seq_len, mode"


@pytest.mark.parametrize(PARAMS, cases(LONGCONV))
def test_longconv(run_benchmark, device: str, op: str, seq_len: int, mode: str) -> None:
    run_benchmark(Workload(op, seq_len=seq_len, **SHAPES[device]), mode, device)


@pytest.mark.parametrize(PARAMS, cases(HYENA))
def test_hyena(run_benchmark, device: str, op: str, seq_len: int, mode: str) -> None:
    run_benchmark(Workload(op, seq_len=seq_len, **SHAPES[device]), mode, device)


@pytest.mark.parametrize(PARAMS, cases(SSM))
def test_ssm(run_benchmark, device: str, op: str, seq_len: int, mode: str) -> None:
    run_benchmark(Workload(op, seq_len=seq_len, **SHAPES[device]), mode, device)


@pytest.mark.parametrize(PARAMS, cases(ATTENTION))
def test_attention(run_benchmark, device: str, op: str, seq_len: int, mode: str) -> None:
    run_benchmark(Workload(op, seq_len=seq_len, **SHAPES[device]), mode, device)


@pytest.mark.parametrize(PARAMS, cases(MODEL))
def test_model(run_benchmark, device: str, op: str, seq_len: int, mode: str) -> None:
    workload = Workload(op, seq_len=seq_len, depth=MODEL_DEPTH, **SHAPES[device])
    run_benchmark(workload, mode, device)


def test_every_backend_is_benchmarked() -> None:
    """A long-convolution, Hyena or state-space operator added to the registry (but the
    float64 oracles) must join the suite, and every name the suite uses must still be
    registered."""
    oracles = {registry.get(n).oracle for n in registry.names()} | set(
        registry.FAMILY_ORACLES.values()
    )
    for family, ops in (("longconv", LONGCONV), ("hyena", HYENA), ("ssm", SSM)):
        missing = set(registry.names(family)) - set(ops) - oracles
        assert not missing, f"add {sorted(missing)} to the {family} benchmarks"
    unknown = {*LONGCONV, *HYENA, *SSM, *ATTENTION, *MODEL} - set(registry.names())
    assert not unknown, f"benchmarked but not registered: {sorted(unknown)}"
