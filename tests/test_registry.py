"""The registry and `hyperf list`."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from hyperf import registry
from hyperf.cli import main
from hyperf.workload import Workload


def test_families_and_oracles():
    assert {"longconv:fft", "longconv:blocked", "longconv:reference", "longconv:triton"} <= set(
        registry.names("longconv")
    )
    for name in registry.names():
        entry = registry.get(name)
        if entry.oracle is not None:
            assert registry.get(entry.oracle).family == entry.family


def test_every_available_entry_builds_and_runs_on_cpu():
    for name in registry.names():
        if not registry.check_available(name, "cpu", torch.float32)[0]:
            continue
        module, u = Workload(name, batch=1, seq_len=32, d_model=16, n_heads=2).instantiate()
        assert module(u).shape == u.shape, name


def test_cuda_without_cuda_is_unavailable_not_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for name in registry.names():
        ok, reason = registry.check_available(name, "cuda", torch.float16)
        assert not ok and "CUDA" in reason


def test_unknown_name_and_bad_registration():
    with pytest.raises(ValueError, match="unknown operator 'hyena:nope'"):
        registry.get("hyena:nope")
    with pytest.raises(ValueError, match="must be 'family:impl'"):
        registry.register("conv-fft")
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(registry.get("longconv:fft"))


def test_hyperf_list_prints_every_entry_and_reasons():
    result = CliRunner().invoke(main, ["list", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for name in registry.names():
        assert name in result.output
    assert "no SDPA efficient kernel" in result.output


def test_hyperf_list_rejects_unknown_device():
    result = CliRunner().invoke(main, ["list", "--device", "tpu"])
    assert result.exit_code == 2 and "tpu" in result.output
