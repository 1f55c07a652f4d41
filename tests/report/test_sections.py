"""The report is a list of sections: one function adds one, every table lands as CSV."""

from __future__ import annotations

import re

import pandas as pd
from markupsafe import Markup

from hyperf.report import sections
from hyperf.report.blocks import Section, Table
from hyperf.report.html import write_report
from hyperf.store import Store


def empty_store(tmp_path):
    db = tmp_path / "r.db"
    with Store(db, write=True) as store:
        store.create_run("empty", "", "h", "cpu", {}, None)
    return db


def test_adding_a_section_is_one_function(tmp_path, monkeypatch):
    def queue_depths(context) -> Section:
        frame = pd.DataFrame({"queue": ["a<b>", "c"], "depth": [3, 4.5]})
        return Section("queues", "Queue depths", "Per queue.", tables=[Table("queues", frame)])

    monkeypatch.setattr(sections, "SECTIONS", [*sections.SECTIONS, queue_depths])
    out = tmp_path / "r.html"
    write_report(empty_store(tmp_path), [1], out)
    html = out.read_text()
    block = html[html.index('<section id="queues"') :]
    assert "<h2>Queue depths</h2>" in block and "a&lt;b&gt;" in block and "<b>" not in block
    assert 'href="r-queues.csv"' in block
    assert pd.read_csv(tmp_path / "r-queues.csv")["depth"].tolist() == [3, 4.5]


def test_every_table_on_the_page_is_written_as_csv(tmp_path):
    out = tmp_path / "r.html"
    write_report(empty_store(tmp_path), [1], out)
    html = out.read_text()
    names = re.findall(r'<div id="([a-z0-9-]+)-table">', html)
    assert {"headline", "environment", "crossovers", "prediction-validation"} <= set(names)
    for name in names:
        assert (tmp_path / f"r-{name}.csv").exists(), name
        assert f'href="r-{name}.csv"' in html
    assert (tmp_path / "r-points.csv").exists()  # a table kept only as CSV


def test_cells_and_links_are_escaped_and_numbers_formatted():
    frame = pd.DataFrame(
        {"op": ["<script>x</script>"], "ms": [0.012345], "L": [4096.0], "href": ['a"b.gz']}
    )
    html = Table("t", frame, ["op", "ms", "L"], links={"op": "href"}).html()
    assert isinstance(html, Markup)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="a&#34;b.gz"' in html
    assert '<td class="num">0.0123</td>' in html and '<td class="num">4096</td>' in html
    assert Table("t", frame.iloc[:0]).html() == Markup("<p class='empty'>none</p>")


def test_predictions_are_set_apart_from_measurements(tmp_path):
    out = tmp_path / "r.html"
    write_report(empty_store(tmp_path), [1], out)
    html = out.read_text()
    predicted = re.findall(r'<section id="([a-z-]+)" class="section-predicted">', html)
    assert predicted == ["predictions"]
    block = html[html.index('<section id="predictions"') :]
    block = block[: block.index("</section>")]
    assert "PREDICTION" in block
