"""What a report section is made of — tables (each also written as CSV), figures (inline
PNG), the section itself — and the ``Context`` every section function is given. Presentation
only: every value is escaped when rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Number
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from hyperf.format import format_cell
from hyperf.report.model import Report


@dataclass(frozen=True)
class Table:
    """One table: ``frame`` is what its CSV (``NAME-{name}.csv``) holds; the page shows
    ``columns`` of ``shown`` (``frame`` unless given), or only a link to the CSV when
    ``on_page`` is false. ``links`` maps a shown column to the column holding its href."""

    name: str
    frame: pd.DataFrame
    columns: list[str] | None = None
    floats: str = "{:.3g}"
    caption: str | Markup = ""
    shown: pd.DataFrame | None = None
    on_page: bool = True
    links: dict[str, str] = field(default_factory=dict)

    def html(self) -> Markup:
        """The table with every cell escaped (hrefs too); "none" when it has no rows."""
        frame = self.frame if self.shown is None else self.shown
        if frame.empty:
            return Markup("<p class='empty'>none</p>")
        columns = [c for c in (self.columns or list(frame.columns)) if c in frame.columns]
        head = Markup("").join(Markup("<th>{}</th>").format(c) for c in columns)
        rows = []
        for record in frame.to_dict("records"):
            cells = []
            for column in columns:
                text = format_cell(record[column], self.floats)
                href = record.get(self.links[column]) if column in self.links else None
                if isinstance(href, str) and href:
                    cells.append(Markup('<td><a href="{}">{}</a></td>').format(href, text))
                elif isinstance(record[column], Number) and not isinstance(record[column], bool):
                    cells.append(Markup('<td class="num">{}</td>').format(text))
                else:
                    cells.append(Markup("<td>{}</td>").format(text))
            rows.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
        body = Markup("").join(rows)
        return Markup(
            '<table class="data"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
        ).format(head, body)


@dataclass(frozen=True)
class Figure:
    png: str | None  # base64 PNG, None when there was nothing to draw
    alt: str
    note: str | Markup = ""


@dataclass(frozen=True)
class Section:
    """``kind``: "measured", "predicted" (set apart, labelled a prediction) or "not-ranked"."""

    id: str
    title: str
    note: str | Markup = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    empty: str = ""  # said when no figure was drawn and no table shown has rows
    after: str | Markup = ""  # a closing note
    kind: str = "measured"

    @property
    def has_content(self) -> bool:
        drawn = any(f.png for f in self.figures)
        shown = [t for t in self.tables if t.on_page]
        return drawn or any(not (t.frame if t.shown is None else t.shown).empty for t in shown)


@dataclass(frozen=True)
class Context:
    """What every section function sees: the report's model, one colour per operator for all
    figures, and the folder the HTML lands in (for relative links; None: absolute)."""

    report: Report
    colours: dict
    base: Path | None

    @property
    def ranked(self) -> pd.DataFrame:
        return self.report.ranked
