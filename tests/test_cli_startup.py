"""What the command line imports before it does anything: `hyperf --help` and the commands
that only read (runs, export, bench, predict) must not pay for torch, pandas or seaborn they
do not use. Structural, not a timing: each case runs in a fresh interpreter and reads
``sys.modules`` after the command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hyperf.bench.cli import bench
from hyperf.cli import COMMANDS, LISTED_HELP, main

STORED = Path(__file__).resolve().parents[1] / "reports" / "cpu-quick" / "quick.db"

# Runs ARGS through hyperf's command line (click's standalone mode, as the `hyperf` script
# does) and prints the heavy modules that were imported by the end.
PROBE = """
import json, sys
from hyperf.cli import main
try:
    main(sys.argv[1:], prog_name="hyperf")
except SystemExit as stop:
    code = stop.code or 0
heavy = ("torch", "pandas", "seaborn", "matplotlib", "scipy")
print(json.dumps({"exit": code, "imported": [m for m in heavy if m in sys.modules]}))
"""


def imported(*args: str) -> set[str]:
    """The heavy modules ``hyperf ARGS`` imports; the command must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0, result.stdout + result.stderr
    return set(report["imported"])


def test_importing_the_cli_and_its_help_imports_no_torch_pandas_or_seaborn():
    assert imported("--help") == set()


@pytest.mark.parametrize("command", ["runs", "export", "predict", "profile", "sweep"])
def test_a_commands_help_imports_no_torch_pandas_or_seaborn(command):
    assert imported(command, "--help") == set()


def test_the_bench_group_imports_no_torch():
    """The bench group loads its statistics (pandas, scipy) with it, but never torch."""
    found = imported("bench", "--help")
    assert "torch" not in found and "seaborn" not in found, found


@pytest.fixture
def store(tmp_path) -> Path:
    """A copy of a stored store (reports/cpu-quick) with one run."""
    db = tmp_path / "quick.db"
    shutil.copy(STORED, db)
    return db


@pytest.mark.parametrize("args", [["runs"], ["export", "1"], ["export", "1", "--format", "json"]])
def test_reading_a_store_imports_no_torch(store, args):
    found = imported(*args, "--db", str(store))
    assert "torch" not in found and "seaborn" not in found, found


def test_bench_history_imports_no_torch(store):
    found = imported("bench", "history", "--db", str(store))
    assert "torch" not in found and "seaborn" not in found, found


def test_predict_json_imports_no_seaborn():
    found = imported("predict", "--gpu", "H100-SXM", "--json")
    assert not {"seaborn", "matplotlib"} & found, found


@pytest.mark.xfail(
    strict=True,
    reason="the predictor's FLOP, byte and time terms come from operators whose modules "
    "import torch (measure.flops, workload, the registry's providers)",
)
def test_predict_json_imports_no_torch():
    assert "torch" not in imported("predict", "--gpu", "H100-SXM", "--json")


def test_the_bench_group_is_listed_as_its_docstring_says():
    """`hyperf --help` lists bench without importing it: the listed text must make the short
    help the group itself would."""
    for limit in (30, 45, 80, 200):
        listed = click.Command("bench", help=LISTED_HELP["bench"]).get_short_help_str(limit)
        assert listed == bench.get_short_help_str(limit)


def test_each_lazy_command_is_named_as_it_is_listed():
    context = click.Context(main)
    for name in COMMANDS:
        assert main.get_command(context, name).name == name
