"""A sweep over the exec axis: both modes stored, each point checked against eager, the
headline naming the mode per row, the figures drawing both, and the device time stored."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from hyperf.report.html import write_report
from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.plan import build_plan
from hyperf.sweep.spec import SpecError, load_spec

SPEC = """
name: exec-test
device: cpu
ops: [hyena:fft, attention:sdpa-flash]
modes: [fwd]
axes: {seq_len: [128, 256, 512], d_model: [16], heads: [2], exec: [eager, compile]}
budget: {seconds: 0.03, min_samples: 5, warmup_s: 0, warmup_calls: 1, repeats: 1}
count_flops: false
"""


@pytest.fixture(scope="module")
def exec_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exec")
    path = tmp / "exec.yaml"
    path.write_text(textwrap.dedent(SPEC))
    spec, text = load_spec(path)
    db = tmp / "exec.db"
    run = run_sweep(spec, text, str(db), quiet=True).run_id
    return db, run, tmp


def test_both_exec_modes_are_stored_checked_and_timed(exec_run):
    db, _run, _ = exec_run
    with Store(db) as store:
        points = store.points()
    assert sorted(points["exec"].unique()) == ["compile", "eager"]
    assert (points["status"] == "ok").all(), points[["op", "exec", "status", "error"]]
    compiled = points[points["exec"] == "compile"]
    details = [json.loads(d) for d in compiled["detail_json"]]
    assert all(d["exec_rel_error"] <= 1e-4 for d in details)  # checked against eager
    assert (points["device_ms"] > 0).all() and (points["device_events"] > 0).all()
    assert (points["recompiled"] == 0).all()


def test_the_headline_names_the_exec_mode_and_the_figures_draw_both(exec_run):
    db, run, tmp = exec_run
    out = tmp / "out" / "exec.html"
    report = write_report(db, [run], out)
    # What is compared is what was ranked: on a busy machine contended points are not.
    ranked = report.points[report.points["rankable"]]
    both = ranked.groupby("exec")["family"].nunique().reindex(["eager", "compile"]).fillna(0)
    headline = pd.read_csv(tmp / "out" / "exec-headline.csv")
    assert set(headline["exec"]) == {e for e, families in both.items() if families == 2}
    floor = pd.read_csv(tmp / "out" / "exec-floor.csv")
    assert set(floor["exec"]) == set(ranked["exec"])
    html = out.read_text()
    for execution in set(ranked["exec"]) - {"eager"}:  # a non-eager series is labelled so
        assert f"{execution}" in html


def test_graph_points_on_a_cpu_are_skipped_with_the_reason(tmp_path):
    path = tmp_path / "graph.yaml"
    path.write_text(
        "name: g\ndevice: cpu\nops: [hyena:fft]\naxes: {seq_len: [64], d_model: [16], "
        "exec: [graph]}\nbudget: {seconds: 0.01, repeats: 1}\n"
    )
    spec, text = load_spec(path)
    db = tmp_path / "g.db"
    run_sweep(spec, text, str(db), quiet=True)
    with Store(db) as store:
        points = store.points()
    assert points["status"].tolist() == ["skipped"] and "CUDA" in points["error"].iloc[0]


def test_an_unknown_exec_mode_is_refused_with_the_allowed_ones(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: b\nops: [hyena:fft]\naxes: {exec: [jit]}\n")
    with pytest.raises(SpecError, match=r"eager.*graph.*compile"):
        load_spec(path)


def test_eager_points_keep_the_ids_they_had_before_exec_existed(tmp_path):
    path = tmp_path / "ids.yaml"
    path.write_text("name: i\nops: [hyena:fft]\naxes: {seq_len: [64], d_model: [16]}\n")
    spec, _ = load_spec(path)
    before = {p.id for p in build_plan(spec, "cpu")}
    path.write_text(
        "name: i\nops: [hyena:fft]\naxes: {seq_len: [64], d_model: [16], exec: [eager]}\n"
    )
    spec, _ = load_spec(path)
    assert {p.id for p in build_plan(spec, "cpu")} == before
