"""The registry and `hyperf list`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hyperf import registry
from hyperf.cli import main
from hyperf.sweep.spec import load_spec
from hyperf.workload import Workload


def test_families_and_oracles():
    assert {"longconv:fft", "longconv:blocked", "longconv:reference", "longconv:triton"} <= set(
        registry.names("longconv")
    )
    for name in registry.names():
        entry = registry.get(name)
        if entry.oracle is not None:
            assert registry.get(entry.oracle).family == entry.family


def test_every_long_convolution_has_a_hyena_operator_that_knows_what_it_knows():
    for name in registry.names("longconv"):
        conv = registry.get(name)
        hyena = registry.get(f"hyena:{conv.impl}")
        assert hyena.derived_from == name and hyena.colour == conv.colour
        assert hyena.available is conv.available and hyena.max_seq_len is conv.max_seq_len
        assert hyena.interpreted is conv.interpreted and hyena.time_model is conv.time_model
        for fact in ("flop_terms", "byte_terms", "memory"):
            assert (getattr(hyena, fact) is None) == (getattr(conv, fact) is None), (name, fact)
    assert registry.runs_interpreted("hyena:triton", "cpu")
    assert not registry.runs_interpreted("hyena:fft", "cpu")


def test_every_available_entry_builds_and_runs_on_cpu():
    for name in registry.names():
        if not registry.check_available(name, "cpu", torch.float32)[0]:
            continue
        module, u = Workload(name, batch=1, seq_len=32, d_model=32, n_heads=2).instantiate()
        with torch.no_grad():  # flex_attention has no CPU backward
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


# HYPERF_PLUGINS: a plugin that cannot be loaded is named, with what went wrong and what to
# do, as a PluginError (exit 2 from the CLI), never a traceback or a spec error.

BROKEN = """\
from hyperf.registry import register

@register("longconv:half_test")
def half(u, k, D):
    return u

raise RuntimeError("needs a GPU build")
"""

DUPLICATE = """\
from hyperf.registry import register

@register("longconv:fft")
def mine(u, k, D):
    return u
"""


@pytest.fixture
def plugin(monkeypatch, tmp_path):
    """Write ``text`` as module ``name`` in tmp_path and name it in HYPERF_PLUGINS; the
    registry reloads on the next lookup, and is left as it was afterwards."""
    registry.names()  # the built-in providers are imported (and cached) before the test
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # a rewritten module is re-read
    monkeypatch.setattr(registry, "_loaded", False)
    added = []

    def write(name: str, text: str | None) -> Path:
        path = tmp_path / f"{name}.py"
        if text is not None:
            path.write_text(text)
        importlib.invalidate_caches()
        monkeypatch.setenv("HYPERF_PLUGINS", f"{name}")
        added.append(name)
        return path

    yield write
    for name in added:
        sys.modules.pop(name, None)
    registry.remove("longconv:half_test")


def test_plugin_that_cannot_be_found(plugin):
    plugin("hyperf_no_such_plugin", None)
    for _ in range(2):  # the registry is not left half-loaded: a retry says the same
        with pytest.raises(registry.PluginError) as caught:
            registry.names()
        message = str(caught.value)
        assert "HYPERF_PLUGINS" in message and "'hyperf_no_such_plugin'" in message
        assert "cannot be found" in message and "PYTHONPATH" in message


def test_plugin_that_fails_on_import(plugin):
    path = plugin("broken_plugin", BROKEN)
    for _ in range(2):  # a retry reports the module's own error again, not 'registered twice'
        with pytest.raises(registry.PluginError) as caught:
            registry.names()
        message = str(caught.value)
        assert "'broken_plugin'" in message and "RuntimeError: needs a GPU build" in message
        assert f"{path}:7" in message and "remove it from HYPERF_PLUGINS" in message
        assert "longconv:half_test" not in registry._ENTRIES  # rolled back with the module
    plugin("broken_plugin", BROKEN.replace('raise RuntimeError("needs a GPU build")', ""))
    assert "longconv:half_test" in registry.names()  # fixed: it loads


def test_plugin_that_registers_an_existing_name(plugin):
    plugin("duplicate_plugin", DUPLICATE)
    with pytest.raises(registry.PluginError) as caught:
        registry.names()
    message = str(caught.value)
    assert "'duplicate_plugin'" in message and "registers 'longconv:fft'" in message
    assert "already registered by hyperf.ops.longconv.fft" in message
    assert "another name" in message
    assert registry._ENTRIES["longconv:fft"].fn.__module__ == "hyperf.ops.longconv.fft"


def test_plugin_error_is_not_blamed_on_the_spec(plugin, tmp_path):
    plugin("broken_plugin", BROKEN)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nops: [hyena:fft]\ndtypes: [float32]\n")
    with pytest.raises(registry.PluginError, match="broken_plugin"):
        load_spec(spec)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("hyperf_no_such_plugin", None, "cannot be found"),
        ("broken_plugin", BROKEN, "RuntimeError: needs a GPU build"),
        ("duplicate_plugin", DUPLICATE, "registers 'longconv:fft'"),
    ],
)
def test_cli_reports_a_bad_plugin_and_exits_2(plugin, tmp_path, name, text, says):
    plugin(name, text)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nops: [hyena:fft]\n")
    for args in (["list", "--device", "cpu"], ["sweep", str(spec), "--dry-run"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"error: HYPERF_PLUGINS names module '{name}'" in result.output
        assert says in result.output and "Traceback" not in result.output


def test_a_length_beyond_a_backends_limit_is_skipped_with_the_limit_not_crashed():
    """The Triton kernel handles L ≤ 32768; an H100 sweep once recorded a length beyond its
    limit as a crash (a ValueError from inside the kernel's wrapper). Now it is skipped."""
    from hyperf.sweep.plan import Point
    from hyperf.sweep.runner import run_point
    from hyperf.workload import Workload

    ok, reason = registry.check_available("hyena:triton", "cpu", torch.float32, 65536)
    assert not ok and "L ≤ 32768" in reason and "65536" in reason
    assert registry.check_available("hyena:triton", "cpu", torch.float32, 32768)[0]
    assert registry.check_available("hyena:fft", "cpu", torch.float32, 2**20)[0]
    point = Point("p", Workload("hyena:triton", seq_len=65536, d_model=8), "fwd", "cpu", {}, None)
    row, samples, _ = run_point(point)
    assert row.status == "skipped" and "L ≤ 32768" in row.error and samples == []
