"""Reports from real sweeps: files, sections, degenerate runs, and a real browser."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.report.html import write_report
from hyperf.store import Store
from hyperf.sweep.driver import run_sweep
from hyperf.sweep.spec import load_spec

SPEC = """
name: report-test
device: cpu
ops: [{ops}]
modes: [fwd]
axes: {{seq_len: [{lengths}], d_model: [16], heads: [2]}}
budget: {{seconds: 0.03, min_samples: 5, warmup_s: 0, warmup_calls: 1}}
count_flops: false
"""


def sweep(tmp_path: Path, ops: str, lengths: str, db: Path) -> int:
    path = tmp_path / f"spec-{abs(hash((ops, lengths)))}.yaml"
    path.write_text(textwrap.dedent(SPEC.format(ops=ops, lengths=lengths)))
    spec, text = load_spec(path)
    return run_sweep(spec, text, str(db), quiet=True).run_id


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "r.db"
    run = sweep(
        tmp, "hyena:fft, attention:naive, attention:sdpa-math", "64, 128, 256, 512, 1024, 2048", db
    )
    return db, run, tmp


def test_report_files_and_sections(real_run):
    db, run, tmp = real_run
    out = tmp / "out" / "quick.html"
    result = CliRunner().invoke(main, ["report", str(run), "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    for section in (
        "Headline",
        "Environment",
        "Time vs sequence length",
        "Wall, device and floor",
        "Speedup",
        "Crossovers",
        "Scaling",
        "Memory",
        "Correctness",
        "Not ranked",
        "Methodology",
    ):
        assert section in html
    # time, wall/device/floor, speedup, memory
    assert html.count("data:image/png;base64,") == 4 and "http://" not in html
    assert (tmp / "out" / "quick.md").read_text().startswith("# hyperf report")
    for name in ("crossovers", "speedups", "scaling", "points", "floor"):
        assert (tmp / "out" / f"quick-{name}.csv").exists()
    # Every ranked point has its operator time (CPU) and a bound class beside its wall time.
    floor = pd.read_csv(tmp / "out" / "quick-floor.csv")
    assert len(floor) and (floor["device_ms"] > 0).all() and (floor["device_events"] > 0).all()
    assert set(floor["bound"].dropna()) <= {"overhead", "memory", "compute"}


@pytest.mark.parametrize("case", ["no_runs", "empty", "all_failed", "single_point", "one_backend"])
def test_degenerate_runs_render_with_an_explanation(tmp_path, case):
    db = tmp_path / "r.db"
    if case == "no_runs":
        with Store(db, write=True):
            pass
        run, expected = None, "This store holds no runs yet"
    elif case == "empty":
        with Store(db, write=True) as store:
            run = store.create_run("empty", "", "h", "cpu", {}, None)
        expected = "holds no points"
    elif case == "all_failed":
        run = sweep(tmp_path, "attention:sdpa-efficient, attention:flash_attn", "64", db)
        expected = "None of the 2 points can be ranked"
    elif case == "single_point":
        run = sweep(tmp_path, "hyena:fft", "64", db)
        expected = "Only one family"
    else:
        run = sweep(tmp_path, "hyena:fft", "64, 128, 256", db)
        expected = "Only one family"
    report = write_report(db, None if run is None else [run], tmp_path / "r.html")
    assert any(expected in line for line in report.headline)
    assert expected in (tmp_path / "r.html").read_text()


def test_unknown_run_is_a_clear_error(real_run, tmp_path):
    db, _, _ = real_run
    result = CliRunner().invoke(
        main, ["report", "99", "--db", str(db), "-o", str(tmp_path / "x.html")]
    )
    assert result.exit_code == 2 and "no runs [99]" in result.output
    assert not (tmp_path / "x.html").exists()


def test_report_in_a_real_browser(real_run, tmp_path):
    """Headless Chromium from file://: no console errors, every image decodes, crossovers."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    db, run, _ = real_run
    out = tmp_path / "report.html"
    write_report(db, [run], out)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(out.as_uri())
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
            )
            rows = page.locator("#crossovers-table table tbody tr").count()
            headline = page.locator("#headline-table table")
            headline_rows = headline.locator("tbody tr").count()
            headline_first = headline.is_visible() and page.evaluate(
                "document.querySelector('#headline-table').getBoundingClientRect().top"
                " < document.querySelector('#crossovers-table').getBoundingClientRect().top"
            )
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    # every figure the report embeds decodes (latency, speedup, memory at least)
    assert len(widths) == out.read_text().count("<img") >= 3
    assert all(w > 0 for w in widths)
    assert rows >= 1
    assert headline_rows >= 1 and headline_first  # the headline table, visible, comes first
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_several_runs_in_one_report(real_run, tmp_path):
    db, first, tmp = real_run
    second = sweep(tmp, "hyena:fft, attention:naive", "64, 128, 256, 512, 1024, 2048", db)
    report = write_report(db, [first, second], tmp_path / "both.html")
    assert set(report.points["run_id"]) == {first, second}
    assert set(report.crossovers["run_id"]) == {first, second}
    page = (tmp_path / "both.html").read_text()
    assert f"(run {second})" in page
    if len(report.ceilings) == 2:  # calibrated: one machine's ceilings said once, not per run
        line = page[page.index("Calibrated ceilings") :].split("</", 1)[0]
        assert line.count(" threads)") == 1, line


def test_nvsubquadratic_table_overlays_its_own_setting_with_the_dispatch_warning(tmp_path):
    path = tmp_path / "nv.yaml"
    path.write_text(
        textwrap.dedent("""
        name: nvsub-shape
        device: cpu
        dtypes: [bfloat16]
        modes: [infer]
        ops: [hyena:fft, attention:sdpa-math]
        axes: {seq_len: [128, 256], d_model: [512], heads: [4], causal: [false]}
        budget: {seconds: 0.02, min_samples: 3, warmup_s: 0, warmup_calls: 1}
        measure_memory: false
        count_flops: false
        """)
    )
    spec, text = load_spec(path)
    run = run_sweep(spec, text, str(tmp_path / "r.db"), quiet=True).run_id
    write_report(tmp_path / "r.db", [run], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "nvSubquadratic&#39;s GB200 forward times" in html or "nvSubquadratic's GB200" in html
    assert "dispatch overhead" in html and "Grey dotted: the paper" not in html  # not its setting


def test_published_figure_overlays_a_matching_configuration(tmp_path):
    path = tmp_path / "fig.yaml"
    path.write_text(
        textwrap.dedent("""
        name: fig4-3-shape
        device: cpu
        dtypes: [float16]
        ops: [hyena:fft, attention:sdpa-math]
        axes: {seq_len: [128, 256], d_model: [768], heads: [12], emb_dim: [33],
               modulate: [false]}
        budget: {seconds: 0.02, min_samples: 5, warmup_s: 0, warmup_calls: 1}
        measure_memory: false
        count_flops: false
        """)
    )
    spec, text = load_spec(path)
    run = run_sweep(spec, text, str(tmp_path / "r.db"), quiet=True).run_id
    write_report(tmp_path / "r.db", [run], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "Grey dotted: the paper&#39;s Figure 4.3" in html or "Grey dotted: the paper's" in html
    assert "compare shapes, not times" in html  # another GPU (or one not known to be this)
