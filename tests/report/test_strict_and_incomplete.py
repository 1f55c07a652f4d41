"""The template is strict (every value escaped unless pre-rendered, a missing key an error),
and a report of a run stopped part-way says so first, with the command that finishes it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.report.html import build, template, write_report
from hyperf.report.sections import sections
from hyperf.store import Store

SPEC = """
name: stopped-part-way
device: cpu
ops: [hyena:fft, attention:sdpa-math]
modes: [fwd]
axes: {seq_len: [64, 128, 256, 512, 1024, 2048], d_model: [16], heads: [2]}
budget: {seconds: 0.03, min_samples: 5, warmup_s: 0, warmup_calls: 1, repeats: 1}
measure_memory: false
count_flops: false
"""
PLANNED = 12  # 2 operators × 6 lengths × 1 mode
STOP_AFTER = 4  # points measured before the driver gets SIGTERM


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A real sweep (the CLI in its own process) stopped by SIGTERM after a few points."""
    tmp = tmp_path_factory.mktemp("stopped")
    spec, db = tmp / "spec.yaml", tmp / "r.db"
    spec.write_text(textwrap.dedent(SPEC))
    driver = subprocess.Popen(
        [sys.executable, "-m", "hyperf.cli", "sweep", str(spec), "--db", str(db), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in driver.stdout:
        seen.append(line)
        if line.startswith(f"[{STOP_AFTER}/"):
            driver.send_signal(signal.SIGTERM)
            break
    output, _ = driver.communicate(timeout=60)
    assert driver.returncode == 128 + signal.SIGTERM, "".join(seen) + output
    with Store(db) as store:
        stored = len(store.points([1]))
        assert store.run(1)["status"] == "interrupted"
    assert STOP_AFTER <= stored < PLANNED
    return spec, db, stored


def banner(db: Path, stored: int) -> str:
    return (
        f"Run 1 (stopped-part-way) is incomplete: {stored} of {PLANNED} planned points stored "
        f"(status interrupted). Finish it with: hyperf sweep SPEC --db {db} --resume 1 "
        "(SPEC: the spec file run 1 was made from)"
    )


def test_a_stopped_run_is_flagged_everywhere_and_resuming_clears_it(stopped_run, tmp_path):
    spec, db, stored = stopped_run
    out = tmp_path / "r.html"
    report = write_report(db, [1], out)
    assert report.warnings == [banner(db, stored)]
    html = out.read_text()
    assert 'class="incomplete"' in html and banner(db, stored) in html
    assert html.index('class="incomplete"') < html.index("<h2>Headline</h2>")
    assert banner(db, stored) in (tmp_path / "r.md").read_text()

    # the command the banner gives finishes the run; the finished run has no banner
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    result = CliRunner().invoke(
        main, ["sweep", str(spec), "--db", str(copy), "--resume", "1", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    finished = write_report(copy, [1], tmp_path / "done.html")
    assert finished.warnings == [] and len(finished.points) == PLANNED
    assert 'class="incomplete"' not in (tmp_path / "done.html").read_text()
    assert "Warning" not in (tmp_path / "done.md").read_text()


def test_a_run_with_no_points_and_no_spec_is_flagged(tmp_path):
    db = tmp_path / "r.db"
    with Store(db, write=True) as store:
        store.create_run("never-ran", "", "h", "cpu", {}, None)
    report = write_report(db, [1], tmp_path / "r.html")
    assert report.warnings == [
        f"Run 1 (never-ran) is incomplete: 0 points stored, of a number planned that is "
        f"unknown (status running). Finish it with: hyperf sweep SPEC --db {db} --resume 1 "
        "(SPEC: the spec file run 1 was made from)"
    ]


def test_every_value_is_escaped(tmp_path):
    db = tmp_path / "r.db"
    name = "<script>alert('run')</script>"
    with Store(db, write=True) as store:
        store.create_run(name, "", "h", "cpu", {"device_name": "<b>cpu</b>"}, None)
    write_report(db, [1], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "<script>" not in html and "<b>cpu</b>" not in html
    assert "&lt;script&gt;alert(" in html  # title, environment table and banner
    assert html.count("&lt;script&gt;") >= 3
    assert "&lt;b&gt;cpu&lt;/b&gt;" in html


def test_a_missing_key_is_an_error_not_an_empty_string(tmp_path):
    db = tmp_path / "r.db"
    with Store(db, write=True) as store:
        store.create_run("empty", "", "h", "cpu", {}, None)
    report = build(db, [1])
    values = dict(
        title="t", warnings=[], n_points=0, n_ranked=0, sections=sections(report), csv_stem="r"
    )
    template().render(**values)  # complete: renders
    for drop in values:
        with pytest.raises(jinja2.UndefinedError):
            template().render(**{k: v for k, v in values.items() if k != drop})
    incomplete = SimpleNamespace(id="x", kind="measured", title="x", note="")  # no tables
    with pytest.raises(jinja2.UndefinedError):
        template().render(**{**values, "sections": [incomplete]})


def test_the_banner_is_visible_in_a_real_browser(stopped_run, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    _, db, stored = stopped_run
    out = tmp_path / "report.html"
    write_report(db, [1], out)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(out.as_uri())
            shown = page.locator("div.incomplete")
            visible = shown.count() == 1 and shown.is_visible()
            text = shown.inner_text()
            box = shown.bounding_box()
            page.screenshot(path=str(tmp_path / "banner.png"))  # the first screen
        finally:
            browser.close()
    assert errors == []
    assert visible and box is not None and box["y"] < 900  # on the first screen
    assert f"{stored} of {PLANNED} planned points stored" in text
    assert f"--db {db} --resume 1" in text
    assert (tmp_path / "banner.png").stat().st_size > 10_000
