"""Adding a long-convolution backend is one file: tests/plugin_longconv.py, named in
``HYPERF_PLUGINS``. With nothing else edited, hyperf registers it and a Hyena operator over it,
sweeps both on the CPU into a store, checks them against their oracles, counts their FLOPs
(its bytes and memory stay unknown: it gives no model for them), gives them colours, and puts
them in the report."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.colors import to_rgb

from hyperf import registry
from hyperf.cli import main
from hyperf.measure.flops import NoModelError, analytic_bytes, analytic_flops
from hyperf.measure.memory import analytic_activation_bytes, analytic_peak_bytes
from hyperf.report.html import write_report
from hyperf.report.style import HYENA_COLOURS, palette
from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec
from hyperf.workload import Workload

HERE = Path(__file__).parent
PLUGIN, BACKEND, HYENA = "plugin_longconv", "longconv:direct_test", "hyena:direct_test"
SPEC = """
name: plugin
device: cpu
ops: [longconv:direct_test, hyena:direct_test, hyena:fft]
modes: [fwd]
axes: {seq_len: [64, 128], d_model: [16]}
budget: {seconds: 0.02, warmup_s: 0, warmup_calls: 1, min_samples: 5, repeats: 1, retries: 0}
measure_memory: false
count_flops: true
"""


@pytest.fixture
def plugin(monkeypatch):
    """The plugin named in HYPERF_PLUGINS and loaded as hyperf loads any: by the next lookup
    here, and by every worker process a sweep starts."""
    registry.names()  # the built-in operators first, as before any plugin
    monkeypatch.setenv("HYPERF_PLUGINS", PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setattr(registry, "_loaded", False)
    yield
    registry.remove(BACKEND)  # its Hyena operator goes with it
    sys.modules.pop(PLUGIN, None)


def test_the_backend_and_a_hyena_operator_over_it_are_registered(plugin):
    assert BACKEND in registry.names("longconv") and HYENA in registry.names("hyena")
    hyena = registry.get(HYENA)
    assert hyena.derived_from == BACKEND and hyena.oracle == "hyena:reference"
    assert hyena.flop_terms is not None  # the backend's terms, inside Hyena's
    assert hyena.byte_terms is hyena.memory is hyena.time_model is None  # unknown, not borrowed
    for op in (BACKEND, HYENA):
        w = Workload(op, seq_len=64, d_model=16)
        with pytest.raises(NoModelError, match="no byte model"):
            analytic_bytes(w, "fwd")
        assert analytic_activation_bytes(w) is None and analytic_peak_bytes(w, "fwd") is None
    listing = CliRunner().invoke(main, ["list", "--device", "cpu"]).output
    assert BACKEND in listing and HYENA in listing


def test_the_backend_is_swept_checked_counted_and_reported(plugin, tmp_path):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC))
    spec, text = load_spec(tmp_path / "spec.yaml")
    run = run_sweep(spec, text, str(tmp_path / "r.db"), quiet=True).run_id
    with Store(tmp_path / "r.db") as store:
        points = store.points([run])
    for row in points.itertuples():
        family = row.op.split(":")[0]
        assert row.status == "ok", (row.op, row.error)
        assert row.oracle == f"{registry.FAMILY_ORACLES[family]}@float64"
        assert row.max_rel_error <= 1e-4
        w = Workload(row.op, seq_len=row.seq_len, d_model=16)
        assert row.flops == analytic_flops(w, "fwd")["total"] > 0
        assert row.flops_counted > 0
    for row in points[points["op"] != "hyena:fft"].itertuples():
        assert row.bytes is None or row.bytes != row.bytes  # unknown: stored empty
        assert "no byte model" in json.loads(row.detail_json)["bytes_note"]
    colours = palette(points["op"].unique())
    assert len(set(colours.values())) == 3  # the plugin's ops take free colours of their own
    assert colours["hyena:fft"] == to_rgb(HYENA_COLOURS[0])  # fixed by longconv:fft's entry
    write_report(tmp_path / "r.db", [run], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert BACKEND in html and HYENA in html
