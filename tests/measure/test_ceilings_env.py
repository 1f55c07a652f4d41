"""Ceilings, roofline, environment capture and their commands."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import hyperf
from hyperf.cli import main
from hyperf.envinfo import capture
from hyperf.measure.ceilings import (
    Ceilings,
    device_fingerprint,
    load_ceilings,
    peak_rate,
    roofline,
    roofline_bound,
    save_ceilings,
)


def test_environment_has_what_decides_a_number():
    info = capture()
    for key in (
        "torch",
        "triton",
        "python",
        "os",
        "cpu_model",
        "cpu_cores",
        "torch_threads",
        "memory_bytes",
        "cuda_available",
        "gpu_count",
        "allocator",
        "git_commit",
        "git_dirty",
        "device_name",
        "hyperf",
    ):
        assert key in info
    repo = Path(hyperf.__file__).resolve().parent.parent
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert info["git_commit"] == (head or None)


def test_roofline_bounds():
    ceilings = Ceilings("cpu", "test", "x", 2, {"float32": 100e9}, 10e9)
    compute = roofline(flops=100e9, bytes_moved=1e9, seconds=2.0, ceilings=ceilings)
    assert compute["bound_by"] == "compute" and compute["roofline_fraction"] == pytest.approx(0.5)
    memory = roofline(flops=1e9, bytes_moved=10e9, seconds=1.0, ceilings=ceilings)
    assert memory["bound_by"] == "memory" and memory["roofline_fraction"] == pytest.approx(1.0)
    assert memory["intensity"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="seconds must be positive"):
        roofline(1, 1, 0, ceilings)


def test_roofline_takes_the_dtype_peak_and_a_stored_dict():
    """4e9 FLOPs and 1e8 bytes in 4 s: bound 4 s at float32's 1e9 FLOP/s, 1 s at
    bfloat16's 4e9; a dtype not calibrated falls back to float32; a run's stored dict works."""
    ceilings = Ceilings("cpu", "test", "x", 2, {"float32": 1e9, "bfloat16": 4e9}, 1e9)
    assert roofline(4e9, 1e8, 4.0, ceilings, "float32")["roofline_fraction"] == pytest.approx(1.0)
    bf16 = roofline(4e9, 1e8, 4.0, ceilings.as_dict(), "bfloat16")
    assert bf16["roofline_fraction"] == pytest.approx(0.25) and bf16["bound_by"] == "compute"
    assert roofline(4e9, 1e8, 4.0, ceilings, "float16")["bound_s"] == pytest.approx(4.0)
    assert peak_rate({"matmul_flops": {"bfloat16": 4e9}}, "bfloat16") == 4e9
    with pytest.raises(ValueError, match="no matmul rate for 'float32'"):
        peak_rate({"matmul_flops": {"bfloat16": 4e9}}, "float32")
    assert roofline_bound(2.0, 3.0, 1.0, 1.0) == (3.0, "memory")
    assert math.isnan(roofline_bound(float("nan"), 3.0, 1.0, 1.0).seconds)


def test_calibrate_measures_stores_and_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HYPERF_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(
        main, ["calibrate", "--device", "cpu", "--dtype", "float32", "--budget", "0.2"]
    )
    assert result.exit_code == 0, result.output
    assert "GFLOP/s" in result.output and "GB/s" in result.output
    ceilings = load_ceilings("cpu")
    assert ceilings is not None and ceilings.matmul_flops["float32"] > 1e9
    assert ceilings.copy_bytes_per_s > 1e8
    (tmp_path / "ceilings.json").write_text("{broken")  # named and ignored, never fatal
    capsys.readouterr()
    assert load_ceilings("cpu") is None
    assert "ceilings.json: not valid JSON" in capsys.readouterr().err


def test_env_command_and_bad_device():
    result = CliRunner().invoke(main, ["env", "--json"])
    assert result.exit_code == 0 and "torch" in json.loads(result.output)
    bad = CliRunner().invoke(main, ["calibrate", "--device", "tpu"])
    assert bad.exit_code == 2 and "device must be" in bad.output


def test_dry_run_predicts_at_each_dtypes_calibrated_peak(tmp_path, monkeypatch):
    """Compute-bound (bandwidth 1e15 B/s): bfloat16 at 4e9 FLOP/s predicts a quarter of
    float32's time at 1e9; float16, not calibrated, float32's."""
    monkeypatch.setenv("HYPERF_CACHE_DIR", str(tmp_path))
    rates = {"float32": 1e9, "bfloat16": 4e9}
    save_ceilings(Ceilings("cpu", "t", device_fingerprint(torch.device("cpu")), 1, rates, 1e15))
    spec = tmp_path / "dry.yaml"
    spec.write_text(
        "name: dry\ndevice: cpu\ndtypes: [float32, bfloat16, float16]\nops: [hyena:fft]\n"
        "axes: {seq_len: [1024], d_model: [64]}\n"
    )
    result = CliRunner().invoke(main, ["sweep", str(spec), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "calibrated ceilings" in result.output
    ms = {
        cells[2]: float(cells[8])
        for line in result.output.splitlines()
        if "hyena:fft" in line
        for cells in [[c.strip() for c in line.strip("│ ").split("│")]]
    }
    assert ms["bfloat16"] == pytest.approx(ms["float32"] / 4, rel=0.01)
    assert ms["float16"] == pytest.approx(ms["float32"], rel=0.01)
