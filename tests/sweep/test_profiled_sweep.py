"""``hyperf sweep --profile``: the chosen points' first repeat is profiled after it is timed,
its trace kept beside the run, its breakdown stored and drawn in the report."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.store import Store
from hyperf.sweep.plan import Point, point_filter
from hyperf.workload import Workload

SPEC = """
name: profiled
device: cpu
ops: [hyena:fft, attention:sdpa-math]
axes: {seq_len: [256, 1024], d_model: [32], heads: [2]}
budget: {seconds: 0.05, min_samples: 3, warmup_s: 0, warmup_calls: 1, repeats: 2, retries: 0}
measure_memory: false
count_flops: false
"""


def test_profile_filter_chooses_points_by_their_parameters():
    fft = Point("a", Workload("hyena:fft", seq_len=4096), "fwd", "cpu", {}, None)
    attention = Point("b", Workload("attention:naive", seq_len=1024), "fwd_bwd", "cpu", {}, None)
    chosen = point_filter("op=hyena:fft,seq_len>=4096")
    assert chosen(fft) and not chosen(attention)
    assert point_filter("seq_len<2048")(attention) and not point_filter("seq_len<2048")(fft)
    assert point_filter("mode!=fwd")(attention) and not point_filter("mode!=fwd")(fft)
    assert point_filter("")(fft) and point_filter("")(attention)  # --profile alone: every point
    with pytest.raises(ValueError, match="KEY one of op, batch, seq_len"):
        point_filter("colour=red")
    with pytest.raises(ValueError, match="'seq_len>'"):
        point_filter("seq_len>")


def test_a_profiled_sweep_keeps_traces_and_breakdowns_and_reports_them(write_spec, tmp_path):
    db = tmp_path / "r.db"
    path = write_spec(SPEC)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["sweep", str(path), "--db", str(db), "--quiet", "--profile-filter", "op=hyena:fft"],
    )
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        points = store.points().set_index("point_id")
        breakdowns = store.breakdowns()
    profiled = set(breakdowns["point_id"])
    assert set(points.loc[list(profiled), "op"]) == {"hyena:fft"}
    assert len(profiled) == 2  # both lengths of hyena:fft, none of attention
    for point_id, rows in breakdowns.groupby("point_id"):
        folder = Path(rows["profile_dir"].iloc[0])
        assert folder == tmp_path / "r-profiles" / "run-1" / point_id
        trace = json.loads(gzip.decompress((folder / "trace.json.gz").read_bytes()))
        names = {e.get("name") for e in trace["traceEvents"]}
        assert {"hyperf/fft forward", "hyperf/fft inverse"} <= names
        assert {"fft forward", "fft inverse", "filter generation"} <= set(rows["category"])
        assert rows["cpu_ms"].ge(0).all() and rows["share"].sum() == pytest.approx(1, abs=0.05)
    assert (points["status"] == "ok").all()  # profiling changed no measurement's outcome

    out = tmp_path / "site" / "report.html"
    report = runner.invoke(main, ["report", "--db", str(db), "-o", str(out)])
    assert report.exit_code == 0, report.output
    html = out.read_text()
    assert "Where the time goes" in html and "time per category vs sequence length" in html
    links = [part.split('"')[0] for part in html.split('<a href="')[1:]]
    traces = [link for link in links if link.endswith("trace.json.gz")]
    assert len(traces) == 2
    for link in traces:  # relative to the report, and the file is there
        assert not link.startswith(("/", "file:")) and (out.parent / link).exists()


def test_a_bad_profile_filter_is_refused_before_anything_runs(write_spec, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(write_spec(SPEC)),
            "--db",
            str(tmp_path / "r.db"),
            "--profile-filter",
            "colour=red",
        ],
    )
    assert result.exit_code == 2 and "colour=red" in result.output and "seq_len" in result.output
    assert not (tmp_path / "r.db").exists()
